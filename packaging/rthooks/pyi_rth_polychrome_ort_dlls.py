# PyInstaller runtime hook (Windows builds): make onnxruntime's DLLs loadable in the frozen app.
#
# onnxruntime's extension module (onnxruntime/capi/onnxruntime_pybind11_state.pyd) loads onnxruntime.dll,
# onnxruntime_providers_shared.dll, the provider DLLs and (DirectML flavour) DirectML.dll from its own folder. Since
# Python 3.8, Windows no longer searches PATH for an extension's dependencies, so that folder (and the bundle's root,
# where PyInstaller puts shared DLLs such as the MSVC runtime) is registered with os.add_dll_directory before anything
# imports onnxruntime. PATH gets them too, for DLLs that onnxruntime loads itself with LoadLibrary.


def _pyi_rthook():
    import os
    import sys

    if sys.platform != "win32" or not hasattr(os, "add_dll_directory"):
        return
    base = getattr(sys, "_MEIPASS", os.path.dirname(sys.executable))
    keep = []
    for d in (os.path.join(base, "onnxruntime", "capi"), base):
        if os.path.isdir(d):
            keep.append(os.add_dll_directory(d))
            os.environ["PATH"] = d + os.pathsep + os.environ.get("PATH", "")
    sys._polychrome_dll_dirs = keep  # the handles must stay alive, or the directories are removed again


_pyi_rthook()
del _pyi_rthook
