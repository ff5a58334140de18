# How to start a fresh process of the PowerShell that runs this script: pwsh as a .NET tool runs as
# `dotnet pwsh.dll`, an installed pwsh as itself, Windows PowerShell as powershell.exe. Dot-sourced by
# build.ps1 and the Pester support module, so both start children the same way.
function Get-PwshCommand {
    if ($PSVersionTable.PSEdition -eq 'Desktop') {
        return [pscustomobject]@{ FilePath = 'powershell.exe'; Prefix = @() }
    }
    $exe = [Diagnostics.Process]::GetCurrentProcess().MainModule.FileName
    $prefix = @()
    if ([IO.Path]::GetFileNameWithoutExtension($exe) -eq 'dotnet') { $prefix = @([IO.Path]::Combine($PSHOME, 'pwsh.dll')) }
    [pscustomobject]@{ FilePath = $exe; Prefix = $prefix }
}
