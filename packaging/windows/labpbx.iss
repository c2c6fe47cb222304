; Inno Setup script for LabPBX on Windows (run by .github/workflows/package.yml on windows-latest):
;   iscc /DAppVersion=0.1.0 /DBundleDir=build\packaging\dist\labpbx packaging\windows\labpbx.iss
; Installs the PyInstaller onedir bundle (windowed labpbx.exe for the Start menu, console
; labpbx-cli.exe for the commands and the lab's children) per user or for all users, adds
; labpbx-cli to PATH on request, and ships the licence texts and the third-party notice.

#ifndef AppVersion
  #define AppVersion "0.0.0"
#endif
#ifndef BundleDir
  #define BundleDir "..\..\build\packaging\dist\labpbx"
#endif

[Setup]
AppId={{7B0C6F1E-5A53-4C1B-9F0E-6C2B4A1D2E31}
AppName=LabPBX
AppVersion={#AppVersion}
AppPublisher=LabPBX developers
DefaultDirName={autopf}\LabPBX
DefaultGroupName=LabPBX
PrivilegesRequired=lowest
PrivilegesRequiredOverridesAllowed=dialog
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
OutputDir=..\..\dist
OutputBaseFilename=labpbx-{#AppVersion}-windows-x64-setup
Compression=lzma2/max
SolidCompression=yes
WizardStyle=modern
LicenseFile=..\licenses\GPL-3.0.txt
SetupIconFile=..\..\build\packaging\icons\labpbx.ico
UninstallDisplayIcon={app}\labpbx.exe
ChangesEnvironment=yes

[Languages]
Name: "en"; MessagesFile: "compiler:Default.isl"

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"
Name: "addtopath"; Description: "Add labpbx-cli to PATH (for labpbx-cli doctor, demo …)"; Flags: unchecked

[Files]
Source: "{#BundleDir}\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{group}\LabPBX"; Filename: "{app}\labpbx.exe"
Name: "{group}\LabPBX system check"; Filename: "{cmd}"; Parameters: "/k ""{app}\labpbx-cli.exe"" doctor"
Name: "{group}\Licences"; Filename: "{app}\_internal\licenses"
Name: "{autodesktop}\LabPBX"; Filename: "{app}\labpbx.exe"; Tasks: desktopicon

[Registry]
Root: HKCU; Subkey: "Environment"; ValueType: expandsz; ValueName: "Path"; \
  ValueData: "{olddata};{app}"; Tasks: addtopath; Check: NeedsAddPath(ExpandConstant('{app}'))

[Run]
Filename: "{app}\labpbx.exe"; Description: "{cm:LaunchProgram,LabPBX}"; Flags: nowait postinstall skipifsilent

[UninstallDelete]
; The program writes nothing beside itself (user data is in %LOCALAPPDATA%\labpbx); this only
; removes Python's bytecode caches should any appear.
Type: filesandordirs; Name: "{app}\_internal\__pycache__"

[Code]
function NeedsAddPath(Dir: string): boolean;
var
  Paths: string;
begin
  if not RegQueryStringValue(HKEY_CURRENT_USER, 'Environment', 'Path', Paths) then
  begin
    Result := True;
    exit;
  end;
  Result := Pos(';' + Uppercase(Dir) + ';', ';' + Uppercase(Paths) + ';') = 0;
end;
