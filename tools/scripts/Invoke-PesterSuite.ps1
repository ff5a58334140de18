# Runs the Pester suite in this (fresh) process with exactly the Pester the build downloaded, and writes
# the counts to a JSON file for build.ps1 to add to the xUnit counts.
param(
    [Parameter(Mandatory)] [string] $PesterManifest,
    [Parameter(Mandatory)] [string] $TestPath,
    [Parameter(Mandatory)] [string] $ResultPath
)
$ErrorActionPreference = 'Stop'
Import-Module $PesterManifest -Force
$config = New-PesterConfiguration
$config.Run.Path = $TestPath
$config.Run.PassThru = $true
$config.Output.Verbosity = 'Detailed'
$config.Output.RenderMode = 'Plaintext'
$result = Invoke-Pester -Configuration $config
# A broken BeforeAll or a file that does not parse fails its tests without counting them as failed.
$failed = $result.FailedCount + $result.FailedBlocksCount + $result.FailedContainersCount
$counts = [ordered]@{ passed = $result.PassedCount; failed = $failed; skipped = $result.SkippedCount + $result.NotRunCount }
[IO.File]::WriteAllText($ResultPath, ($counts | ConvertTo-Json -Compress))
