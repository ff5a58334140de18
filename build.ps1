#Requires -Version 5.1
<#
.SYNOPSIS
    Builds, tests, packages or cleans the Abstrakt module. Works in pwsh 7 and Windows PowerShell 5.1.
.EXAMPLE
    ./build.ps1                   # Build (stages the module so Import-Module ./Abstrakt.psd1 works)
    ./build.ps1 -Task Test        # xUnit, then Pester 5 when it is installed
    ./build.ps1 -Task Package     # out/Abstrakt/<version>/, ready for Publish-PSResource
#>
[CmdletBinding()]
param(
    [ValidateSet('Build', 'Test', 'Package', 'Clean')]
    [string[]] $Task = 'Build',

    [ValidateSet('Debug', 'Release')]
    [string] $Configuration = 'Release',

    # Package what the last build staged, without building again.
    [switch] $NoBuild,

    # Where Package writes Abstrakt/<version>/.
    [string] $OutputPath = [IO.Path]::Combine($PSScriptRoot, 'out')
)

$ErrorActionPreference = 'Stop'
$root = $PSScriptRoot
$solution = [IO.Path]::Combine($root, 'Abstrakt.PowerShell.sln')
# File work uses .NET calls: they behave the same in pwsh 7, Windows PowerShell 5.1 and a bare hosted engine.

function Invoke-Native([string] $Command, [string[]] $Arguments) {
    & $Command @Arguments
    if ($LASTEXITCODE -ne 0) { throw "$Command $($Arguments -join ' ') failed with exit code $LASTEXITCODE" }
}

function Get-ModuleVersion {
    $manifest = [IO.Path]::Combine($root, 'Abstrakt.psd1')
    $ast = [System.Management.Automation.Language.Parser]::ParseFile($manifest, [ref]$null, [ref]$null)
    $data = $ast.Find({ param($n) $n -is [System.Management.Automation.Language.HashtableAst] }, $false).SafeGetValue()
    $data.ModuleVersion
}

# What the published module holds, and nothing else. A missing file fails the package.
# The package's README is the user one (install, connect, first batch), not this repository's.
$PackageReadme = 'docs/package/README.md'
$PackageFiles = @(
    'Abstrakt.psd1'
    'module/Abstrakt.PowerShell.dll'
    'module/Abstrakt.Core.dll'
    'module/Abstrakt.Format.ps1xml'
    'en-US/Abstrakt.PowerShell.dll-Help.xml'
    'en-US/about_Abstrakt.help.txt'
    'module/dependencies/*.dll'
    'LICENSE'
)

foreach ($step in $Task) {
    switch ($step) {
        'Clean' {
            Invoke-Native dotnet @('clean', $solution, '-c', $Configuration, '--nologo', '-v', 'q')
            foreach ($path in 'out', 'en-US', 'module/dependencies') {
                $full = [IO.Path]::Combine($root, $path)
                if ([IO.Directory]::Exists($full)) { [IO.Directory]::Delete($full, $true) }
            }
            foreach ($path in 'module/Abstrakt.PowerShell.dll', 'module/Abstrakt.Core.dll') {
                [IO.File]::Delete([IO.Path]::Combine($root, $path))
            }
        }
        'Build' {
            Invoke-Native dotnet @('build', $solution, '-c', $Configuration, '--nologo')
        }
        'Test' {
            Invoke-Native dotnet @('test', $solution, '-c', $Configuration, '--nologo')
            $pester = Get-Module -ListAvailable Pester | Where-Object { $_.Version.Major -ge 5 } | Sort-Object Version -Descending | Select-Object -First 1
            if (-not $pester) {
                Write-Warning 'Pester 5 is not installed: skipped tests/Pester. Install it with: Install-PSResource Pester'
                continue
            }
            # A fresh process, so the module under test is the one just built.
            $exe = if ($PSVersionTable.PSEdition -eq 'Core') { 'pwsh' } else { 'powershell' }
            $script = "Import-Module Pester -MinimumVersion 5.0; `$c = New-PesterConfiguration; `$c.Run.Path = '$root/tests/Pester'; `$c.Run.Exit = `$true; `$c.Output.Verbosity = 'Detailed'; Invoke-Pester -Configuration `$c"
            Invoke-Native $exe @('-NoProfile', '-NonInteractive', '-Command', $script)
        }
        'Package' {
            if (-not $NoBuild) { Invoke-Native dotnet @('build', $solution, '-c', $Configuration, '--nologo') }
            $version = Get-ModuleVersion
            $target = [IO.Path]::Combine($OutputPath, 'Abstrakt', $version)
            if ([IO.Directory]::Exists($target)) { [IO.Directory]::Delete($target, $true) }
            foreach ($pattern in $PackageFiles) {
                $folder = [IO.Path]::GetDirectoryName($pattern)
                $found = @()
                $source = [IO.Path]::Combine($root, $folder)
                if ([IO.Directory]::Exists($source)) { $found = @([IO.Directory]::GetFiles($source, [IO.Path]::GetFileName($pattern))) }
                if ($found.Count -eq 0) { throw "Package: missing $pattern (build first?)" }
                $destination = [IO.Directory]::CreateDirectory([IO.Path]::Combine($target, $folder)).FullName
                foreach ($file in $found) {
                    [IO.File]::Copy($file, [IO.Path]::Combine($destination, [IO.Path]::GetFileName($file)), $true)
                }
            }
            $readme = [IO.Path]::Combine($root, $PackageReadme)
            if (-not [IO.File]::Exists($readme)) { throw "Package: missing $PackageReadme" }
            [IO.File]::Copy($readme, [IO.Path]::Combine($target, 'README.md'), $true)
            $Host.UI.WriteLine("Packaged Abstrakt $version in $target")
        }
    }
}
