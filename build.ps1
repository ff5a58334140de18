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
    [string] $Configuration = 'Release'
)

$ErrorActionPreference = 'Stop'
$root = $PSScriptRoot
$solution = Join-Path $root 'Abstrakt.PowerShell.sln'

function Invoke-Native([string] $Command, [string[]] $Arguments) {
    & $Command @Arguments
    if ($LASTEXITCODE -ne 0) { throw "$Command $($Arguments -join ' ') failed with exit code $LASTEXITCODE" }
}

function Get-ModuleVersion {
    $manifest = Join-Path $root 'Abstrakt.psd1'
    $ast = [System.Management.Automation.Language.Parser]::ParseFile($manifest, [ref]$null, [ref]$null)
    $data = $ast.Find({ param($n) $n -is [System.Management.Automation.Language.HashtableAst] }, $false).SafeGetValue()
    $data.ModuleVersion
}

# What the published module holds, and nothing else. A missing file fails the package.
$PackageFiles = @(
    'Abstrakt.psd1'
    'module/Abstrakt.PowerShell.dll'
    'module/Abstrakt.Core.dll'
    'module/Abstrakt.Format.ps1xml'
    'en-US/Abstrakt.PowerShell.dll-Help.xml'
    'en-US/about_Abstrakt.help.txt'
    'module/dependencies/*.dll'
    'LICENSE'
    'README.md'
)

foreach ($step in $Task) {
    switch ($step) {
        'Clean' {
            Invoke-Native dotnet @('clean', $solution, '-c', $Configuration, '--nologo', '-v', 'q')
            foreach ($path in 'out', 'en-US', 'module/dependencies', 'module/Abstrakt.PowerShell.dll', 'module/Abstrakt.Core.dll') {
                Remove-Item -LiteralPath (Join-Path $root $path) -Recurse -Force -ErrorAction SilentlyContinue
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
            Invoke-Native dotnet @('build', $solution, '-c', $Configuration, '--nologo')
            $version = Get-ModuleVersion
            $target = Join-Path $root "out/Abstrakt/$version"
            Remove-Item -LiteralPath $target -Recurse -Force -ErrorAction SilentlyContinue
            foreach ($pattern in $PackageFiles) {
                $found = @(Get-ChildItem -Path (Join-Path $root $pattern) -File -ErrorAction SilentlyContinue)
                if ($found.Count -eq 0) { throw "Package: missing $pattern (build first?)" }
                $destination = Join-Path $target (Split-Path $pattern -Parent)
                New-Item -ItemType Directory -Force -Path $destination | Out-Null
                $found | Copy-Item -Destination $destination
            }
            Write-Host "Packaged Abstrakt $version in $target"
        }
    }
}
