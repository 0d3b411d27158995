; Inno Setup 6 script: the Windows installer for Polychrome's one-folder bundle.
;
; Made by `py -3.11 packaging\build.py --flavour directml --package`, which builds the bundle and runs
;     ISCC.exe /DAppVersion=<version> /DSourceDir=<dist\...\Polychrome> /DOutputDir=<dist\...> /DFlavour=<flavour>
;            packaging\windows\polychrome.iss
; By hand, after a build: "C:\Program Files (x86)\Inno Setup 6\ISCC.exe" packaging\windows\polychrome.iss
; (the defaults below point at dist\directml\Polychrome). Relative paths are relative to this file's folder.
;
; Installs per user by default (no administrator rights; {autopf} is then %LOCALAPPDATA%\Programs), or for all
; users when the user chooses so in the first dialog. The bundle has its own Python, Qt, onnxruntime-directml and
; the MSVC runtime DLLs that Python needs; DirectML needs Windows 10 1903 or later and a DirectX 12 GPU, otherwise
; Polychrome runs on the CPU.

#ifndef AppVersion
  #define AppVersion "0.1.0"
#endif
#ifndef Flavour
  #define Flavour "directml"
#endif
#ifndef SourceDir
  #define SourceDir "..\..\dist\" + Flavour + "\Polychrome"
#endif
#ifndef OutputDir
  #define OutputDir "..\..\dist\" + Flavour
#endif

[Setup]
; AppId identifies the application for upgrades and uninstall: never change it.
AppId={{729CEF0C-5352-4074-85BF-EB772A404A5F}
AppName=Polychrome
AppVersion={#AppVersion}
AppVerName=Polychrome {#AppVersion}
AppPublisher=The Polychrome developers
AppCopyright=MIT License, The Polychrome developers
VersionInfoVersion={#AppVersion}
VersionInfoProductName=Polychrome
DefaultDirName={autopf}\Polychrome
DefaultGroupName=Polychrome
DisableProgramGroupPage=yes
LicenseFile=..\..\LICENSE
OutputDir={#OutputDir}
OutputBaseFilename=Polychrome-{#AppVersion}-windows-{#Flavour}-setup
UninstallDisplayIcon={app}\polychrome-gui.exe
UninstallDisplayName=Polychrome {#AppVersion}
Compression=lzma2/max
SolidCompression=yes
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
MinVersion=10.0
PrivilegesRequired=lowest
PrivilegesRequiredOverridesAllowed=dialog
ChangesEnvironment=yes
WizardStyle=modern
#ifdef IconFile
SetupIconFile={#IconFile}
#endif

[Languages]
Name: "english"; MessagesFile: "compiler:Default.isl"

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked
Name: "addtopath"; Description: "Add the polychrome command-line tool to PATH"; GroupDescription: "Command line:"; Flags: unchecked

[Files]
; The whole bundle: polychrome-gui.exe (windowed), polychrome.exe (console) and _internal\ (Python, Qt,
; onnxruntime, models, resources, licences). An upgrade replaces the old files; per-user models and settings live
; elsewhere (%LOCALAPPDATA%\Polychrome, the registry) and are kept.
Source: "{#SourceDir}\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[InstallDelete]
; Files of an older version that the new bundle no longer has would otherwise stay in _internal.
Type: filesandordirs; Name: "{app}\_internal"

[Icons]
Name: "{autoprograms}\Polychrome"; Filename: "{app}\polychrome-gui.exe"; Comment: "Colorize grayscale photos"
Name: "{autodesktop}\Polychrome"; Filename: "{app}\polychrome-gui.exe"; Tasks: desktopicon

[Registry]
; PATH for the console tool: the user's PATH for a per-user install, the machine's for an all-users install.
Root: HKCU; Subkey: "Environment"; ValueType: expandsz; ValueName: "Path"; ValueData: "{olddata};{app}"; \
    Tasks: addtopath; Check: (not IsAdminInstallMode) and NeedsAddPath
Root: HKLM; Subkey: "SYSTEM\CurrentControlSet\Control\Session Manager\Environment"; ValueType: expandsz; \
    ValueName: "Path"; ValueData: "{olddata};{app}"; Tasks: addtopath; \
    Check: IsAdminInstallMode and NeedsAddPath
; "Open with" for images (does not take over any file type)
Root: HKA; Subkey: "Software\Classes\Applications\polychrome-gui.exe"; ValueType: string; ValueName: "FriendlyAppName"; \
    ValueData: "Polychrome"; Flags: uninsdeletekey
Root: HKA; Subkey: "Software\Classes\Applications\polychrome-gui.exe\shell\open\command"; ValueType: string; \
    ValueName: ""; ValueData: """{app}\polychrome-gui.exe"" ""%1"""
Root: HKA; Subkey: "Software\Classes\Applications\polychrome-gui.exe\SupportedTypes"; ValueType: string; ValueName: ".jpg"; ValueData: ""
Root: HKA; Subkey: "Software\Classes\Applications\polychrome-gui.exe\SupportedTypes"; ValueType: string; ValueName: ".jpeg"; ValueData: ""
Root: HKA; Subkey: "Software\Classes\Applications\polychrome-gui.exe\SupportedTypes"; ValueType: string; ValueName: ".png"; ValueData: ""
Root: HKA; Subkey: "Software\Classes\Applications\polychrome-gui.exe\SupportedTypes"; ValueType: string; ValueName: ".tif"; ValueData: ""
Root: HKA; Subkey: "Software\Classes\Applications\polychrome-gui.exe\SupportedTypes"; ValueType: string; ValueName: ".tiff"; ValueData: ""

[Run]
Filename: "{app}\polychrome-gui.exe"; Description: "{cm:LaunchProgram,Polychrome}"; Flags: nowait postinstall skipifsilent

[Code]
const
  MachineEnv = 'SYSTEM\CurrentControlSet\Control\Session Manager\Environment';
  UserEnv = 'Environment';

function EnvRoot(): Integer;
begin
  if IsAdminInstallMode then Result := HKEY_LOCAL_MACHINE else Result := HKEY_CURRENT_USER;
end;

function EnvKey(): string;
begin
  if IsAdminInstallMode then Result := MachineEnv else Result := UserEnv;
end;

// True when the install folder is not yet on the PATH this install mode changes (per user or all users).
function NeedsAddPath(): Boolean;
var
  Current: string;
begin
  if not RegQueryStringValue(EnvRoot(), EnvKey(), 'Path', Current) then
  begin
    Result := True;
    exit;
  end;
  Result := Pos(';' + Uppercase(ExpandConstant('{app}')) + ';', ';' + Uppercase(Current) + ';') = 0;
end;

procedure RemoveFromPath();
var
  Current, Dir: string;
  P: Integer;
begin
  if not RegQueryStringValue(EnvRoot(), EnvKey(), 'Path', Current) then
    exit;
  Dir := ExpandConstant('{app}');
  P := Pos(';' + Uppercase(Dir), Uppercase(Current));
  if P > 0 then
  begin
    Delete(Current, P, Length(Dir) + 1);
    RegWriteExpandStringValue(EnvRoot(), EnvKey(), 'Path', Current);
  end;
end;

procedure CurUninstallStepChanged(CurUninstallStep: TUninstallStep);
begin
  if CurUninstallStep = usPostUninstall then
    RemoveFromPath();
end;
