@{
    RootModule             = 'module/Abstrakt.PowerShell.dll'
    ModuleVersion          = '0.1.0'
    CompatiblePSEditions   = @('Desktop', 'Core')
    GUID                   = '5d6f0a52-7c1e-4b8e-9a63-2f4d1c9e8b17'
    Author                 = 'Abstrakt.PowerShell contributors'
    CompanyName            = 'Abstrakt.PowerShell'
    Copyright              = '(c) Abstrakt.PowerShell contributors. MIT License.'
    Description            = 'Drive the abstrakt AI generation service (FLUX, Stable Diffusion, video, speech) from PowerShell: throttled, resilient, resumable batches, with a local sandbox that needs no account.'
    PowerShellVersion      = '5.1'
    DotNetFrameworkVersion = '4.7.2'
    FormatsToProcess       = @('module/Abstrakt.Format.ps1xml')
    CmdletsToExport        = @(
        'Connect-Abstrakt'
        'ConvertFrom-AbstraktWebhook'
        'Disconnect-Abstrakt'
        'Get-AbstraktBatch'
        'Get-AbstraktConnection'
        'Get-AbstraktJob'
        'Get-AbstraktModel'
        'Import-AbstraktBatch'
        'Invoke-AbstraktImage'
        'Invoke-AbstraktModel'
        'Measure-AbstraktCost'
        'Start-AbstraktBatch'
        'Start-AbstraktSandbox'
        'Stop-AbstraktBatch'
        'Stop-AbstraktJob'
        'Stop-AbstraktSandbox'
        'Submit-AbstraktJob'
        'Test-AbstraktWebhookSignature'
        'Wait-AbstraktJob'
    )
    FunctionsToExport      = @()
    AliasesToExport        = @()
    VariablesToExport      = @()
    PrivateData            = @{
        PSData = @{
            Tags         = @('abstrakt', 'AI', 'FLUX', 'StableDiffusion', 'ImageGeneration', 'Batch', 'REST', 'PSEdition_Core', 'PSEdition_Desktop', 'Windows', 'Linux', 'MacOS')
            ProjectUri   = 'https://github.com/abstrakt-one/Abstrakt.PowerShell'
            LicenseUri   = 'https://github.com/abstrakt-one/Abstrakt.PowerShell/blob/main/LICENSE'
            ReleaseNotes = 'See https://github.com/abstrakt-one/Abstrakt.PowerShell/releases'
        }
    }
}
