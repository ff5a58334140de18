# The README's main job: a batch of examples/prompts.txt against the embedded sandbox (no account
# needed), five at a time, images written to ./out. Run it with: dotnet pwsh ./build.ps1 -Task MainJob
Import-Module ([IO.Path]::Combine($PSScriptRoot, '..', 'Abstrakt.psd1'))
Get-Content ([IO.Path]::Combine($PSScriptRoot, 'prompts.txt')) |
    Start-AbstraktBatch -ThrottleLimit 5 -OutputDirectory ./out
