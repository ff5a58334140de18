#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0' }
# Run after a build: ./build.ps1 -Task Build, Test (or Invoke-Pester ./tests/Pester).

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../../Abstrakt.psd1') -Force
    $script:sandbox = Start-AbstraktSandbox -LatencyScale 0 -Tier Unlimited
}

AfterAll {
    Stop-AbstraktSandbox
    Remove-Module Abstrakt -ErrorAction SilentlyContinue
}

Describe 'Start-AbstraktBatch' {
    It 'returns one result per prompt' {
        $results = 'a fox', 'a lake', 'a tree' | Start-AbstraktBatch -ThrottleLimit 2
        $results | Should -HaveCount 3
        $results.Status | Should -Not -Contain 'Failed'
    }

    It 'writes image files to the output directory' {
        $out = Join-Path $TestDrive 'out'
        'a lighthouse' | Start-AbstraktBatch -OutputDirectory $out
        Get-ChildItem $out -Filter *.png | Should -HaveCount 1
    }

    It 'binds CSV columns by property name' {
        $csv = Join-Path $TestDrive 'prompts.csv'
        "Prompt,ImageSize,NumImages`na castle,square,2" | Set-Content $csv
        $result = Import-Csv $csv | Start-AbstraktBatch
        $result.Urls | Should -HaveCount 2
    }

    It 'reports a bad item as a non-terminating error with a stable id' {
        $result = [pscustomobject]@{ Prompt = 'x'; NumImages = 9 } | Start-AbstraktBatch -ErrorVariable failed -ErrorAction SilentlyContinue
        $result | Should -BeNullOrEmpty
        $failed[0].FullyQualifiedErrorId | Should -BeLike 'AbstraktItemFailed.InvalidInput,*'
        $failed[0].TargetObject.Prompt | Should -Be 'x'
    }

    It 'stops early when downstream takes only the first results' {
        $first = 1..50 | ForEach-Object { "prompt $_" } | Start-AbstraktBatch | Select-Object -First 3
        $first | Should -HaveCount 3
    }

    It 'counts items without sending them under -WhatIf' {
        { 'a', 'b' | Start-AbstraktBatch -WhatIf } | Should -Not -Throw
    }
}

Describe 'Get-AbstraktModel' {
    It 'lists the catalogue' {
        (Get-AbstraktModel).Id | Should -Contain 'flux-schnell'
    }
}

Describe 'Job cmdlets' {
    It 'pipes a submitted job to Wait-AbstraktJob' {
        (Submit-AbstraktJob 'a pond' | Wait-AbstraktJob).Status | Should -Be 'Completed'
    }
}

Describe 'Webhooks' {
    BeforeAll {
        $secret = 'whsec_pester'
        $body = '{"job_id":"job_1","status":"succeeded","model_id":"flux-dev","output":{"items":[{"url":"http://127.0.0.1/a.png"}]},"credits_used":3}'
        $ts = [DateTimeOffset]::UtcNow.ToUnixTimeSeconds()
        $hmac = [System.Security.Cryptography.HMACSHA256]::new([Text.Encoding]::UTF8.GetBytes($secret))
        # Lowercase hex, written out so it also runs in Windows PowerShell 5.1 (no Convert.ToHexString).
        $signature = -join ($hmac.ComputeHash([Text.Encoding]::UTF8.GetBytes("$ts.$body")) | ForEach-Object { $_.ToString('x2') })
    }

    It 'accepts a good signature' {
        Test-AbstraktWebhookSignature -Body $body -Timestamp $ts -Signature $signature -Secret $secret | Should -BeTrue
    }

    It 'rejects a tampered body' {
        Test-AbstraktWebhookSignature -Body ($body + ' ') -Timestamp $ts -Signature $signature -Secret $secret | Should -BeFalse
    }

    It 'converts a verified delivery into a result' {
        $headers = @{ 'X-Abstrakt-Timestamp' = "$ts"; 'X-Abstrakt-Signature' = $signature }
        (ConvertFrom-AbstraktWebhook -Body $body -Headers $headers -Secret $secret).JobId | Should -Be 'job_1'
    }
}
