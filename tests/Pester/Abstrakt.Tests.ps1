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

Describe 'Invoke-AbstraktImage' {
    It 'returns the requested number of images' {
        $result = Invoke-AbstraktImage 'a red kite' -NumImages 2
        $result.Status | Should -Be 'Completed'
        $result.Urls | Should -HaveCount 2
    }
}

Describe 'Invoke-AbstraktModel' {
    It 'runs a speech model from an input hashtable and saves a WAV file' {
        $out = Join-Path $TestDrive 'speech'
        $result = Invoke-AbstraktModel kokoro-tts @{ text = 'Hello from Pester.' } -OutputDirectory $out
        $result.Files | Should -HaveCount 1
        $result.Files[0] | Should -BeLike '*.wav'
        $result.Files[0] | Should -Exist
    }
}

Describe 'Journal' {
    It 'returns completed items from the journal on resume' {
        $journal = Join-Path $TestDrive 'batch.jsonl'
        $first = 'one', 'two' | Start-AbstraktBatch -JournalPath $journal
        $again = 'one', 'two' | Start-AbstraktBatch -JournalPath $journal -Resume
        # Results come in the order they finish, so compare the sets of job ids.
        ($again.JobId | Sort-Object) -join ',' | Should -Be (($first.JobId | Sort-Object) -join ',')
    }
}

Describe 'Errors' {
    It 'stops an unknown model with one terminating error' {
        $err = { 'a', 'b' | Start-AbstraktBatch -Model 'no-such-model' } | Should -Throw -PassThru
        $err.FullyQualifiedErrorId | Should -BeLike 'AbstraktBatchFatal.ModelNotFound,*'
    }

    It 'refuses a plain http endpoint that is not loopback' {
        $key = ConvertTo-SecureString 'sk_test_x' -AsPlainText -Force
        $err = { Connect-Abstrakt -Endpoint 'http://example.org' -ApiKey $key } | Should -Throw -PassThru
        $err.FullyQualifiedErrorId | Should -BeLike 'AbstraktInvalidEndpoint,*'
    }
}

Describe 'Tab completion and help' {
    It 'completes -Model from the catalogue' {
        $line = 'Start-AbstraktBatch -Model flux-'
        (TabExpansion2 -inputScript $line -cursorColumn $line.Length).CompletionMatches.CompletionText | Should -Contain 'flux-schnell'
    }

    It 'has a description and an example for every exported cmdlet' {
        foreach ($name in (Get-Command -Module Abstrakt).Name) {
            $help = Get-Help $name -Full
            $help.Description | Should -Not -BeNullOrEmpty -Because $name
            $help.Examples.Example | Should -Not -BeNullOrEmpty -Because $name
        }
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

    It 'reads a job again by its id' {
        $job = Submit-AbstraktJob 'a meadow' | Wait-AbstraktJob
        (Get-AbstraktJob $job.JobId).Status | Should -Be 'Completed'
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
