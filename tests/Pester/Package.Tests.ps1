#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0' }
# How users get the module: the package build.ps1 makes, published to a repository with PSResourceGet,
# installed by name into a throwaway user profile, imported by name in a fresh pwsh, and run.

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestSupport.psm1') -Force
    $root = Get-RepositoryRoot
    $version = (Import-PowerShellDataFile (Join-Path $root 'Abstrakt.psd1')).ModuleVersion
    # A user profile of its own: PSResourceGet's repository list and the CurrentUser module folder live
    # under it, so the test neither sees nor changes the machine's.
    $profileRoot = Join-Path $TestDrive 'home'
    $userEnvironment = @{
        HOME = $profileRoot; USERPROFILE = $profileRoot
        XDG_DATA_HOME = Join-Path $profileRoot '.local/share'; XDG_CONFIG_HOME = Join-Path $profileRoot '.config'; XDG_CACHE_HOME = Join-Path $profileRoot '.cache'
        LOCALAPPDATA = Join-Path $profileRoot 'AppData/Local'; APPDATA = Join-Path $profileRoot 'AppData/Roaming'
        PSModulePath = ''; ABSTRAKT_API_KEY = ''
    }
}

Describe 'The published package' {
    It 'is built by build.ps1 -Task Package, published, installed by name and runs a batch' {
        $packageRoot = Join-Path $TestDrive 'package'
        $repository = Join-Path $TestDrive 'repository'
        # .NET reports no user data folder until it exists, and PSResourceGet then writes beside the working directory.
        $null = New-Item -ItemType Directory $repository, $userEnvironment.XDG_DATA_HOME, $userEnvironment.XDG_CONFIG_HOME, $userEnvironment.LOCALAPPDATA, $userEnvironment.APPDATA

        $package = Invoke-ChildPwsh -NoImport -Script "& '$(Join-Path $root 'build.ps1')' -Task Package -NoBuild -OutputPath '$packageRoot'"
        $package.ExitCode | Should -Be 0 -Because $package.Errors

        $install = Invoke-ChildPwsh -NoImport -Environment $userEnvironment -WorkingDirectory $TestDrive -Script @"
Register-PSResourceRepository -Name AbstraktTest -Uri '$repository' -Trusted
Publish-PSResource -Path '$(Join-Path $packageRoot "Abstrakt/$version")' -Repository AbstraktTest
Install-PSResource Abstrakt -Repository AbstraktTest -Scope CurrentUser -TrustRepository
(Get-InstalledPSResource Abstrakt).Version.ToString()
"@
        $install.ExitCode | Should -Be 0 -Because $install.Errors
        $install.Output.Trim() | Should -Be $version
        Join-Path $userEnvironment.XDG_DATA_HOME 'PSResourceGet' | Should -Exist -Because 'the repository list belongs to the throwaway profile'
        Get-ChildItem $repository -Filter "Abstrakt.$version.nupkg" | Should -HaveCount 1

        $run = Invoke-ChildPwsh -NoImport -Environment $userEnvironment -WorkingDirectory $TestDrive -Script @'
Import-Module Abstrakt
(Get-Module Abstrakt).ModuleBase
$null = Start-AbstraktSandbox -LatencyScale 0
$results = 'one', 'two', 'three' | Start-AbstraktBatch -OutputDirectory ./installed-out
"completed=$(@($results | Where-Object Status -eq 'Completed').Count)"
"files=$(@(Get-ChildItem ./installed-out -Filter *.png).Count)"
"help=$([bool](Get-Help Start-AbstraktBatch).Description)"
'@
        $run.ExitCode | Should -Be 0 -Because $run.Errors
        $lines = $run.Output -split "`r?`n"
        $lines[0] | Should -BeLike "$profileRoot*" -Because 'the module must come from the installed copy, not the repository'
        $lines | Should -Contain 'completed=3'
        $lines | Should -Contain 'files=3'
        $lines | Should -Contain 'help=True'
    }
}
