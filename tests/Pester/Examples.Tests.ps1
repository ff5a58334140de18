#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0' }
# Every example in docs/cmdlets/*.md runs as written, against a fresh sandbox, with ErrorAction Stop:
# help that shows a command which no longer works fails here. Only what cannot run on one machine is
# rewritten: public webhook URLs become a loopback listener, the production endpoint the sandbox, and
# the placeholders a web framework or a vault would provide are given stand-ins below. An example that
# names $env:ABSTRAKT_STORE gets a new database in a throwaway PostgreSQL cluster.

BeforeDiscovery {
    $docs = [IO.Path]::Combine($PSScriptRoot, '..', '..', 'docs', 'cmdlets')
    $examples = foreach ($file in Get-ChildItem $docs -Filter *.md) {
        $title = $null
        $code = $null
        foreach ($line in [IO.File]::ReadAllLines($file.FullName)) {
            if ($line -match '^### (.+)$') { $title = $Matches[1]; continue }
            if ($null -ne $code) {
                if ($line -eq '```') { @{ Cmdlet = $file.BaseName; Title = $title; Code = ($code -join "`n") }; $code = $null }
                else { $code += $line }
                continue
            }
            if ($line -eq '```powershell' -and $title) { $code = @() }
        }
    }
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestSupport.psm1') -Force
    Import-Module (Get-ModuleManifestPath) -Force

    function Get-FreeLoopbackPrefix {
        $listener = [Net.Sockets.TcpListener]::new([Net.IPAddress]::Loopback, 0)
        $listener.Start()
        try { "http://127.0.0.1:$($listener.LocalEndpoint.Port)/abstrakt/" } finally { $listener.Stop() }
    }

    # Stand-ins for what an Azure Functions or Pode host provides to the webhook examples.
    class HttpResponseContext { [int] $StatusCode }
    function Push-OutputBinding([string] $Name, $Value) { $script:pushed = $Value }
    function Set-PodeResponseStatus([int] $Code) { $script:podeStatus = $Code }
}

AfterAll {
    Stop-TestPostgres $script:pg
    Stop-AbstraktSandbox
    Remove-Module Abstrakt -ErrorAction SilentlyContinue
}

Describe 'Documented examples' {
    BeforeEach {
        $sandbox = Start-AbstraktSandbox -LatencyScale 0 -Tier Unlimited
        $work = Join-Path $TestDrive ([guid]::NewGuid().ToString('n'))
        $null = New-Item -ItemType Directory $work
        Push-Location $work
        'a lighthouse at dawn', 'a red fox in snow', 'a bowl of ramen' | Set-Content ./prompts.txt
        "Prompt,Model,ImageSize,NumImages,Seed,Id`na castle,flux-dev,square,2,7,castle`na wide field,,landscape_16_9,1,,field" | Set-Content ./prompts.csv
        "Id,Prompt,Model,NumImages`nhero,a knight on a hill,flux-dev,2`nlogo,a minimal fox logo,," | Set-Content ./items.csv
        "Prompt,Ready`na ready one,yes`nnot yet,no`nanother ready one,yes" | Set-Content ./big.csv
        # Photos for the image examples: small PNGs, and a CSV of prompts beside them.
        $null = New-Item -ItemType Directory ./photos
        1..3 | ForEach-Object { $null = New-TestPng ('./photos/IMG_{0:D4}.png' -f $_) -Width (8 * $_) -Height (6 * $_) -Seed $_ }
        "Prompt,Image`nas a watercolour,./photos/IMG_0001.png`nat night,./photos/IMG_0002.png" | Set-Content ./photos.csv

        # What the examples take for granted: a secret, jobs, a key from a vault, a delivery, a request.
        $webhookSecret = Get-PlainText $sandbox.WebhookSecret
        $secret = $sandbox.WebhookSecret
        $env:ABSTRAKT_WEBHOOK_SECRET = $webhookSecret
        $secrets = @{ AbstraktKey = Get-PlainText $sandbox.ApiKey }
        $jobs = 'an example job', 'another example job' | ForEach-Object { Submit-AbstraktJob $_ }
        $delivery = New-SignedDelivery $webhookSecret
        Set-Content ./delivery.json $delivery.Body -NoNewline
        $Request = [pscustomobject]@{ RawBody = $delivery.Body; Headers = $delivery.Headers }
        $WebEvent = @{ Request = @{ Body = $delivery.Body; Headers = $delivery.Headers } }
        $script:pushed = $null
        $script:podeStatus = $null
        # Read-Host and Get-Credential are the user typing the key, Get-Secret a vault; Connect-Abstrakt's default endpoint is the production service.
        function Read-Host { param([switch] $AsSecureString, $Prompt) $sandbox.ApiKey }
        function Get-Secret { param($Name) $sandbox.ApiKey }
        function Get-Credential { param($UserName, $Message) [pscredential]::new($UserName, $sandbox.ApiKey) }
        $PSDefaultParameterValues['Connect-Abstrakt:Endpoint'] = $sandbox.Uri
    }

    AfterEach {
        Pop-Location
        $PSDefaultParameterValues.Remove('Connect-Abstrakt:Endpoint')
        Remove-Item Env:ABSTRAKT_WEBHOOK_SECRET, Env:ABSTRAKT_API_KEY, Env:ABSTRAKT_STORE -ErrorAction SilentlyContinue
    }

    It '<Cmdlet>: <Title>' -ForEach $examples {
        if ($Cmdlet -eq 'Stop-AbstraktJob') {
            # Only a running job can be cancelled: video jobs on a sandbox that takes its time.
            $null = Start-AbstraktSandbox -LatencyScale 1 -SyncTimeoutSec 0.05 -Tier Unlimited
            $jobs = @(Submit-AbstraktJob -Model minimax-video -Input @{ prompt = 'a running job' })
        }
        $prefix = Get-FreeLoopbackPrefix
        $code = $Code -replace 'https://[\w.-]*example\.org/[\w/.-]*', $prefix -replace 'http://\+:\d+/abstrakt/', $prefix -replace 'job_01hx2k9', $jobs[0].JobId
        if ($code -match 'ABSTRAKT_STORE') {
            if (-not $script:pg) { $script:pg = Start-TestPostgres }
            $env:ABSTRAKT_STORE = New-TestPostgresDatabase $script:pg
        }
        $ErrorActionPreference = 'Stop'
        $example = [scriptblock]::Create($code)
        # An example written as a handler (param($Request)) gets the stand-in of that name.
        $arguments = @{}
        foreach ($parameter in @($example.Ast.ParamBlock.Parameters)) {
            if ($parameter) { $arguments[$parameter.Name.VariablePath.UserPath] = Get-Variable $parameter.Name.VariablePath.UserPath -ValueOnly }
        }
        $output = . $example @arguments
        if ($Cmdlet -eq 'ConvertFrom-AbstraktWebhook' -and $code -match 'Push-OutputBinding') { $script:pushed.StatusCode | Should -Be 200 }
        if ($Cmdlet -eq 'Test-AbstraktWebhookSignature') { $ok | Should -BeTrue; $script:podeStatus | Should -BeNullOrEmpty }
        if ($code -match 'Start-AbstraktBatch|Invoke-Abstrakt|Get-AbstraktModel|Get-AbstraktJob|Get-AbstraktBatch|Wait-AbstraktJob|ConvertFrom-AbstraktWebhook -Body \(') {
            if ($code -notmatch '-WhatIf|Stop-AbstraktJob|Get-AbstraktConnection\)\)') { $output | Should -Not -BeNullOrEmpty -Because 'the example returns results' }
        }
    }
}
