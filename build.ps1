#Requires -Version 5.1
<#
.SYNOPSIS
    Builds, tests, packages or cleans the Abstrakt module. Works in pwsh 7 and Windows PowerShell 5.1.
.EXAMPLE
    ./build.ps1                   # Build (stages the module so Import-Module ./Abstrakt.psd1 works)
    ./build.ps1 -Task Test        # xUnit, then the Pester suite in a fresh process; ends with 'N passed, N failed'
    ./build.ps1 -Task MainJob     # build, then the batch of examples/prompts.txt on the embedded sandbox (./out)
    ./build.ps1 -Task Package     # out/Abstrakt/<version>/, ready for Publish-PSResource
#>
[CmdletBinding()]
param(
    [ValidateSet('Build', 'Test', 'MainJob', 'Package', 'Clean')]
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

. ([IO.Path]::Combine($root, 'tools', 'scripts', 'PwshCommand.ps1'))

# Runs a script file in a fresh process of this PowerShell, so it imports the module just built.
function Invoke-FreshPowerShell([string] $File, [string[]] $Arguments) {
    $pwsh = Get-PwshCommand
    Invoke-Native $pwsh.FilePath (@($pwsh.Prefix) + @('-NoProfile', '-NonInteractive', '-File', $File) + @($Arguments))
}

# Pester 5.9.1 from NuGet into out/tools (tools/Pester/Pester.csproj), never a hand-installed copy.
function Get-PesterManifest {
    $packages = [IO.Path]::Combine($root, 'out', 'tools')
    Invoke-Native dotnet @('restore', [IO.Path]::Combine($root, 'tools', 'Pester', 'Pester.csproj'), '--packages', $packages, '--nologo', '-v', 'q')
    [IO.Path]::Combine($packages, 'pester', '5.9.1', 'tools', 'Pester.psd1')
}

# Sums the counters of the .trx files dotnet test wrote.
function Get-XunitCounts([string] $Folder) {
    $counts = [ordered]@{ passed = 0; failed = 0; skipped = 0 }
    foreach ($file in [IO.Directory]::GetFiles($Folder, '*.trx')) {
        $xml = [xml][IO.File]::ReadAllText($file)
        $counters = $xml.TestRun.ResultSummary.Counters
        $counts.passed += [int]$counters.passed
        $counts.failed += [int]$counters.failed + [int]$counters.error + [int]$counters.timeout + [int]$counters.aborted
        $counts.skipped += [int]$counters.notExecuted
    }
    $counts
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
    'module/Abstrakt.Sandbox.dll'
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
            foreach ($path in 'module/Abstrakt.PowerShell.dll', 'module/Abstrakt.Core.dll', 'module/Abstrakt.Sandbox.dll') {
                [IO.File]::Delete([IO.Path]::Combine($root, $path))
            }
        }
        'Build' {
            Invoke-Native dotnet @('build', $solution, '-c', $Configuration, '--nologo')
        }
        'Test' {
            # xUnit (engine logic and hosted-engine tests), then the Pester suite in a fresh pwsh: what a user sees.
            $results = [IO.Path]::Combine($root, 'out', 'test-results')
            if ([IO.Directory]::Exists($results)) { [IO.Directory]::Delete($results, $true) }
            # One test assembly at a time (-m:1): the rate-limit tests pace against real windows, and two assemblies
            # loading both cores at once would measure the machine, not the pacer.
            & dotnet test $solution -c $Configuration --nologo -m:1 --logger trx --results-directory $results
            $xunitExit = $LASTEXITCODE
            $xunit = Get-XunitCounts $results
            if ($xunitExit -ne 0 -and $xunit.failed -eq 0) { $xunit.failed = 1 }  # a build or host failure counts

            $pesterResult = [IO.Path]::Combine($results, 'pester.json')
            $runner = [IO.Path]::Combine($root, 'tools', 'scripts', 'Invoke-PesterSuite.ps1')
            $pwsh = Get-PwshCommand
            & $pwsh.FilePath (@($pwsh.Prefix) + @('-NoProfile', '-NonInteractive', '-File', $runner,
                '-PesterManifest', (Get-PesterManifest), '-TestPath', [IO.Path]::Combine($root, 'tests', 'Pester'), '-ResultPath', $pesterResult))
            $pester = if ([IO.File]::Exists($pesterResult)) { [IO.File]::ReadAllText($pesterResult) | ConvertFrom-Json } else { [pscustomobject]@{ passed = 0; failed = 1; skipped = 0 } }

            $passed = $xunit.passed + $pester.passed
            $failed = $xunit.failed + $pester.failed
            $skipped = $xunit.skipped + $pester.skipped
            $Host.UI.WriteLine("xUnit: $($xunit.passed) passed, $($xunit.failed) failed, $($xunit.skipped) skipped; Pester: $($pester.passed) passed, $($pester.failed) failed, $($pester.skipped) skipped")
            # CI skips nothing silently: a skipped test there is a failure.
            if ($env:CI -eq 'true' -and $skipped -gt 0) { $failed += $skipped }
            $Host.UI.WriteLine("$passed passed, $failed failed")
            if ($failed -gt 0 -or $passed -eq 0) { exit 1 }
        }
        'MainJob' {
            Invoke-Native dotnet @('build', $solution, '-c', $Configuration, '--nologo', '-v', 'q')
            Invoke-FreshPowerShell ([IO.Path]::Combine($root, 'examples', 'main-job.ps1'))
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
