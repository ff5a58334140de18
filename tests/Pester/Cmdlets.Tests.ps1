#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0' }
# What a user sees, typed the way a user types it, in real pwsh against the sandbox: one Describe per
# exported cmdlet (a test below checks that none is missing). Run with: ./build.ps1 -Task Test

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestSupport.psm1') -Force
    Import-Module (Get-ModuleManifestPath) -Force
    $script:sandbox = Start-AbstraktSandbox -LatencyScale 0 -Tier Unlimited
}

AfterAll {
    Stop-AbstraktSandbox
    Remove-Module Abstrakt -ErrorAction SilentlyContinue
}

Describe 'The test suite' {
    It 'has a Describe block for every exported cmdlet' {
        $described = Get-ChildItem $PSScriptRoot -Filter *.Tests.ps1 | ForEach-Object {
            $ast = [System.Management.Automation.Language.Parser]::ParseFile($_.FullName, [ref]$null, [ref]$null)
            $ast.FindAll({ param($n) $n -is [System.Management.Automation.Language.CommandAst] -and $n.GetCommandName() -eq 'Describe' }, $true) |
                ForEach-Object { $_.CommandElements[1].SafeGetValue() }
        }
        foreach ($name in (Get-Command -Module Abstrakt).Name) {
            $described | Should -Contain $name -Because "$name needs its own Describe"
        }
    }
}

Describe 'Start-AbstraktBatch' {
    It 'streams one typed result per line of a file read with Get-Content' {
        $file = Join-Path $TestDrive 'prompts.txt'
        1..8 | ForEach-Object { "prompt number $_" } | Set-Content $file
        $results = Get-Content $file | Start-AbstraktBatch -ThrottleLimit 3
        $results | Should -HaveCount 8
        $results[0].PSObject.TypeNames[0] | Should -Be 'Abstrakt.PowerShell.Output.AbstraktResult'
        ($results.Prompt | Sort-Object) | Should -Be (Get-Content $file | Sort-Object)
        $results.Status | Should -Not -Contain 'Failed'
    }

    It 'writes image files to the output directory' {
        $out = Join-Path $TestDrive 'out'
        $result = 'a lighthouse' | Start-AbstraktBatch -OutputDirectory $out
        Get-ChildItem $out -Filter *.png | Should -HaveCount 1
        $result.Files[0] | Should -Exist
    }

    It 'binds Import-Csv columns by property name, with per-row model and image count' {
        $csv = Join-Path $TestDrive 'prompts.csv'
        @(
            [pscustomobject]@{ Prompt = 'a castle'; ImageSize = 'square'; NumImages = 2; Model = 'flux-schnell' }
            [pscustomobject]@{ Prompt = 'a wide field'; ImageSize = 'landscape_16_9'; NumImages = 1; Model = 'fast-sdxl' }
        ) | Export-Csv $csv -NoTypeInformation
        $results = Import-Csv $csv | Start-AbstraktBatch
        ($results | Where-Object Prompt -eq 'a castle').Urls | Should -HaveCount 2
        ($results | Where-Object Prompt -eq 'a wide field').Model | Should -Be 'fast-sdxl'
    }

    It 'reports a bad item as a non-terminating error with a stable id and the input as its target' {
        $items = [pscustomobject]@{ Prompt = 'fine' }, [pscustomobject]@{ Prompt = 'too many'; NumImages = 9 }
        $results = $items | Start-AbstraktBatch -ErrorVariable failed -ErrorAction SilentlyContinue
        $results | Should -HaveCount 1
        $failed | Should -HaveCount 1
        $failed[0].FullyQualifiedErrorId | Should -BeLike 'AbstraktItemFailed.InvalidInput,*'
        $failed[0].CategoryInfo.Category | Should -Be 'InvalidArgument'
        $failed[0].TargetObject.Prompt | Should -Be 'too many'
    }

    It 'runs an item whose Id is not ASCII (the Id never goes raw into a header)' {
        $result = [pscustomobject]@{ Id = 'café Ünïcode'; Prompt = 'a croissant' } | Start-AbstraktBatch
        $result.Status | Should -Be 'Completed'
        $result.Id | Should -Be 'café Ünïcode'
    }

    It 'runs the failed items again when their targets are piped back in' {
        $null = [pscustomobject]@{ Prompt = 'again'; NumImages = 9 } | Start-AbstraktBatch -ErrorVariable failed -ErrorAction SilentlyContinue
        $fixed = $failed.TargetObject | Select-Object Prompt, @{ n = 'NumImages'; e = { 1 } }
        ($fixed | Start-AbstraktBatch).Prompt | Should -Be 'again'
    }

    It 'ends the whole batch with one terminating error on a bad key' {
        Connect-Abstrakt -Endpoint $sandbox.Uri -ApiKey (ConvertTo-SecureString 'sk_test_not_a_real_key_123' -AsPlainText -Force) -SkipCheck
        try {
            $err = { 1..50 | ForEach-Object { "p$_" } | Start-AbstraktBatch -ThrottleLimit 4 } | Should -Throw -PassThru
            $err.FullyQualifiedErrorId | Should -BeLike 'AbstraktBatchFatal.Unauthorized,*'
            $err.CategoryInfo.Category | Should -Be 'AuthenticationError'
            "$err" | Should -Not -BeLike '*sk_test_not_a_real_key_123*'
        }
        finally {
            Connect-Abstrakt -Endpoint $sandbox.Uri -ApiKey $sandbox.ApiKey
        }
    }

    It 'stops early when downstream takes only the first results, and cancels the rest' {
        $first = 1..50 | ForEach-Object { "prompt $_" } | Start-AbstraktBatch | Select-Object -First 3
        $first | Should -HaveCount 3
    }

    It 'sends nothing under -WhatIf' {
        $before = (Get-SandboxStats $sandbox).requests_total
        'a', 'b' | Start-AbstraktBatch -Model flux-dev -WhatIf
        (Get-SandboxStats $sandbox).requests_total | Should -Be $before
    }

    It 'describes each request under -Verbose and never shows the key' {
        $key = Get-PlainText $sandbox.ApiKey
        $verbose = 'a', 'b' | Start-AbstraktBatch -Verbose 4>&1 | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] }
        ($verbose.Message -like '*POST /v1/models/flux-schnell/run -> 200*') | Should -HaveCount 2
        ($verbose.Message -join "`n") | Should -Not -BeLike "*$($key.Substring(0, 12))*"
    }

    It 'survives Export-Csv and ConvertTo-Json' {
        $results = 'one', 'two' | Start-AbstraktBatch
        $csv = Join-Path $TestDrive 'results.csv'
        $results | Export-Csv $csv -NoTypeInformation
        $rows = Import-Csv $csv
        $rows | Should -HaveCount 2
        ($rows.JobId | Sort-Object) | Should -Be ($results.JobId | Sort-Object)
        $json = $results | ConvertTo-Json -Depth 3 | ConvertFrom-Json
        ($json.Prompt | Sort-Object) | Should -Be 'one', 'two'
    }

    It 'formats results as a table that names its columns, and a list with the prompt' {
        $result = 'a formatted one' | Start-AbstraktBatch
        $table = $result | Out-String -Width 120
        $table | Should -Match 'Status'
        $table | Should -Match 'Completed'
        $table | Should -Match ([regex]::Escape($result.JobId))
        $result | Format-List | Out-String -Width 120 | Should -Match 'a formatted one'
    }

    It 'resumes from a journal without creating the jobs again' {
        $journal = Join-Path $TestDrive 'batch.jsonl'
        $first = 'one', 'two' | Start-AbstraktBatch -JournalPath $journal
        $created = (Get-SandboxStats $sandbox).jobs_created
        $again = 'one', 'two' | Start-AbstraktBatch -JournalPath $journal -Resume
        ($again.JobId | Sort-Object) | Should -Be ($first.JobId | Sort-Object)
        (Get-SandboxStats $sandbox).jobs_created | Should -Be $created
    }

    It 'completes -Model from the catalogue' {
        $line = 'Start-AbstraktBatch -Model flux-'
        (TabExpansion2 -inputScript $line -cursorColumn $line.Length).CompletionMatches.CompletionText | Should -Be 'flux-dev', 'flux-schnell'
    }
}

Describe 'Invoke-AbstraktImage' {
    It 'returns the requested number of images for a positional prompt' {
        $result = Invoke-AbstraktImage 'a red kite' -NumImages 2
        $result.Status | Should -Be 'Completed'
        $result.Urls | Should -HaveCount 2
    }

    It 'takes prompts from the pipeline' {
        ('a fox', 'an owl' | Invoke-AbstraktImage).Prompt | Sort-Object | Should -Be 'a fox', 'an owl'
    }

    It 'takes an image size in any case, as PowerShell users type it' {
        (Invoke-AbstraktImage 'a square one' -ImageSize SQUARE).Status | Should -Be 'Completed'
    }

    It 'rejects an unknown image size by parameter validation, before anything is sent' {
        $before = (Get-SandboxStats $sandbox).requests_total
        { Invoke-AbstraktImage 'x' -ImageSize huge } | Should -Throw -ErrorId 'ParameterArgumentValidationError,*'
        (Get-SandboxStats $sandbox).requests_total | Should -Be $before
    }

    It 'completes -ImageSize with the sizes the API names' {
        $line = 'Invoke-AbstraktImage x -ImageSize '
        (TabExpansion2 -inputScript $line -cursorColumn $line.Length).CompletionMatches.CompletionText | Should -Be 'square_hd', 'square', 'portrait_4_3', 'landscape_16_9'
        $line = 'Invoke-AbstraktImage x -ImageSize land'
        (TabExpansion2 -inputScript $line -cursorColumn $line.Length).CompletionMatches.CompletionText | Should -Be 'landscape_16_9'
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

    It 'fails an input that breaks the schema as an item error with the service''s reason' {
        $null = Invoke-AbstraktModel kokoro-tts @{ voice = 'river' } -ErrorVariable failed -ErrorAction SilentlyContinue
        $failed[0].FullyQualifiedErrorId | Should -BeLike 'AbstraktItemFailed.InvalidInput,*'
        "$($failed[0])" | Should -Match 'text'
    }
}

Describe 'Submit-AbstraktJob' {
    It 'returns a job at once, before it completes' {
        $job = Submit-AbstraktJob 'a pond'
        $job.JobId | Should -BeLike 'job_*'
        $job.PSObject.TypeNames[0] | Should -Be 'Abstrakt.PowerShell.Output.AbstraktJob'
    }

    It 'retries a create the service answered 503 or 500, as a batch does, saying so under -Verbose with the prompt it is for' {
        $flaky = Start-AbstraktSandbox -LatencyScale 0 -Tier Unlimited -TransientErrorRate 0.5 -Seed 7
        try {
            $output = 1..10 | ForEach-Object { "flaky $_" } | Submit-AbstraktJob -Verbose -ErrorVariable failed -ErrorAction SilentlyContinue 4>&1
            $jobs = @($output | Where-Object { $_ -isnot [System.Management.Automation.VerboseRecord] })
            $retries = @($output | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] -and $_.Message -match '^flaky \d+: retry \d of 3 in .* after (MODEL_UNAVAILABLE|TRANSPORT_FAULT)' })

            $stats = Get-SandboxStats $flaky
            $stats.responses_by_status.'503' + $stats.responses_by_status.'500' | Should -BeGreaterThan 0 -Because 'the service failed some requests'
            $retries.Count | Should -BeGreaterThan 0
            $jobs.Count + $failed.Count | Should -Be 10 -Because 'every prompt ends as a job or an error'
            $stats.jobs_created | Should -Be $jobs.Count -Because 'a retried create made no second job'
        }
        finally { $script:sandbox = Start-AbstraktSandbox -LatencyScale 0 -Tier Unlimited }
    }
}

Describe 'Wait-AbstraktJob' {
    It 'waits for a piped job until it completes' {
        (Submit-AbstraktJob 'a pond' | Wait-AbstraktJob).Status | Should -Be 'Completed'
    }
}

Describe 'Get-AbstraktJob' {
    It 'reads a job again by its id' {
        $job = Submit-AbstraktJob 'a meadow' | Wait-AbstraktJob
        (Get-AbstraktJob $job.JobId).Status | Should -Be 'Completed'
    }

    It 'reports an unknown job id as an error naming it' {
        $null = Get-AbstraktJob job_does_not_exist -ErrorVariable failed -ErrorAction SilentlyContinue
        $failed[0].CategoryInfo.Category | Should -Be 'ObjectNotFound'
        $failed[0].TargetObject | Should -Be 'job_does_not_exist'
    }
}

Describe 'Stop-AbstraktJob' {
    It 'cancels a running job' {
        $slow = Start-AbstraktSandbox -LatencyScale 1 -Tier Unlimited
        try {
            $job = Submit-AbstraktJob -Model minimax-video -Input @{ prompt = 'a paper boat' }
            ($job | Stop-AbstraktJob).Status | Should -Be 'Cancelled'
            (Get-SandboxStats $slow).jobs_cancelled | Should -Be 1
        }
        finally {
            $script:sandbox = Start-AbstraktSandbox -LatencyScale 0 -Tier Unlimited
        }
    }

    It 'asks nothing of the service under -WhatIf' {
        $job = Submit-AbstraktJob 'still here'
        $before = (Get-SandboxStats $sandbox).requests_total
        $job | Stop-AbstraktJob -WhatIf
        (Get-SandboxStats $sandbox).requests_total | Should -Be $before
    }
}

Describe 'Get-AbstraktModel' {
    It 'lists the catalogue' {
        (Get-AbstraktModel).Id | Should -Contain 'flux-schnell'
    }

    It 'shows every model id whole in its table at 80 columns, so it can be copied' {
        $text = Get-AbstraktModel | Out-String -Width 80
        foreach ($id in (Get-AbstraktModel).Id) { $text | Should -Match "(?m)^$([regex]::Escape($id)) " }
    }

    It 'filters by category and shows one model''s price' {
        (Get-AbstraktModel -Category video).Id | Should -Be 'minimax-video'
        (Get-AbstraktModel -Id flux-dev).Credits | Should -Be 3
    }
}

Describe 'Connect-Abstrakt' {
    AfterAll { Connect-Abstrakt -Endpoint $sandbox.Uri -ApiKey $sandbox.ApiKey }

    It 'connects to an endpoint with a key and runs there' {
        Connect-Abstrakt -Endpoint $sandbox.Uri -ApiKey $sandbox.ApiKey
        $before = (Get-SandboxStats $sandbox).jobs_created
        $null = 'connected' | Start-AbstraktBatch
        (Get-SandboxStats $sandbox).jobs_created | Should -Be ($before + 1)
    }

    It 'reads the key from $env:ABSTRAKT_API_KEY when none is given' {
        $env:ABSTRAKT_API_KEY = Get-PlainText $sandbox.ApiKey
        try {
            Connect-Abstrakt -Endpoint $sandbox.Uri
            ('from env' | Start-AbstraktBatch).Status | Should -Be 'Completed'
        }
        finally { Remove-Item Env:ABSTRAKT_API_KEY }
    }

    It 'connects with a warning when the key check meets a busy service, which says nothing about the key' {
        $busy = Start-AbstraktSandbox -LatencyScale 0 -TransientErrorRate 1
        try {
            Connect-Abstrakt -Endpoint $busy.Uri -ApiKey $busy.ApiKey -WarningVariable warned -WarningAction SilentlyContinue
            "$warned" | Should -BeLike '*Could not check the key*'
            (Get-AbstraktConnection).Endpoint | Should -Be $busy.Uri
        }
        finally { $script:sandbox = Start-AbstraktSandbox -LatencyScale 0 -Tier Unlimited }
    }

    It 'retries a connection cut during the key check, as any call is retried' {
        # Seed 3 cuts the check's first answer and not its second (the sandbox's faults are seeded).
        $flaky = Start-AbstraktSandbox -LatencyScale 0 -CutConnectionRate 0.5 -Seed 3
        try {
            $said = Connect-Abstrakt -Endpoint $flaky.Uri -ApiKey $flaky.ApiKey -Verbose 4>&1
            @($said | Where-Object { "$_" -like 'Key check: retry 1 of 3 *TRANSPORT*' }).Count | Should -Be 1
            (Get-AbstraktConnection).Endpoint | Should -Be $flaky.Uri
            (Get-SandboxStats $flaky).requests_total | Should -Be 2
        }
        finally { $script:sandbox = Start-AbstraktSandbox -LatencyScale 0 -Tier Unlimited }
    }

    It 'leaves the session unconnected when the check fails: the next batch says so, and runs nowhere else' {
        $wrong = ConvertTo-SecureString 'sk_test_not_the_key_0000' -AsPlainText -Force
        $connect = { Connect-Abstrakt -Endpoint $sandbox.Uri -ApiKey $wrong } | Should -Throw -PassThru
        $connect.FullyQualifiedErrorId | Should -BeLike 'AbstraktUnauthorized,*'
        $before = (Get-SandboxStats $sandbox).jobs_created

        $batch = { 'after a failed connect' | Start-AbstraktBatch } | Should -Throw -PassThru

        $batch.FullyQualifiedErrorId | Should -BeLike 'AbstraktNotConnected,*'
        "$batch" | Should -BeLike "*$($sandbox.Uri)*failed*"
        $batch.ErrorDetails.RecommendedAction | Should -BeLike '*Connect-Abstrakt again*'
        (Get-SandboxStats $sandbox).jobs_created | Should -Be $before
        Disconnect-Abstrakt
        ('after disconnecting' | Start-AbstraktBatch -WarningAction SilentlyContinue).Status | Should -Be 'Completed'
    }

    It 'refuses a plain http endpoint that is not loopback' {
        $key = ConvertTo-SecureString 'sk_test_x' -AsPlainText -Force
        $err = { Connect-Abstrakt -Endpoint 'http://example.org' -ApiKey $key } | Should -Throw -PassThru
        $err.FullyQualifiedErrorId | Should -BeLike 'AbstraktInvalidEndpoint,*'
    }
}

Describe 'Get-AbstraktConnection' {
    It 'shows the endpoint and only the last four characters of the key' {
        Connect-Abstrakt -Endpoint $sandbox.Uri -ApiKey $sandbox.ApiKey
        $connection = Get-AbstraktConnection
        $key = Get-PlainText $sandbox.ApiKey
        "$($connection.Endpoint)" | Should -Be "$($sandbox.Uri)"
        $connection | Format-List * | Out-String | Should -Not -Match ([regex]::Escape($key.Substring(0, $key.Length - 4)))
    }
}

Describe 'Disconnect-Abstrakt' {
    It 'forgets the connection, so the next batch falls back to the built-in sandbox with one warning' {
        $run = Invoke-ChildPwsh -Script @'
Start-AbstraktSandbox -LatencyScale 0 | Out-Null
Disconnect-Abstrakt
Stop-AbstraktSandbox
$a = 'a' | Start-AbstraktBatch -WarningVariable w1
$b = 'b' | Start-AbstraktBatch -WarningVariable w2
"results=$(@($a; $b).Count) warnings=$($w1.Count + $w2.Count)"
'@ -Environment @{ ABSTRAKT_API_KEY = '' }
        $run.ExitCode | Should -Be 0 -Because $run.Errors
        $run.Output | Should -Match 'results=2 warnings=1'
    }
}

Describe 'Start-AbstraktSandbox' {
    It 'returns the sandbox with its address and key, and connects the session to it' {
        $sb = Start-AbstraktSandbox -LatencyScale 0 -Tier Unlimited
        try {
            $sb.Uri.Host | Should -Be '127.0.0.1'
            Get-PlainText $sb.ApiKey | Should -BeLike 'sk_test_*'
            $before = (Get-SandboxStats $sb).jobs_created
            $null = 'on the new sandbox' | Start-AbstraktBatch
            (Get-SandboxStats $sb).jobs_created | Should -Be ($before + 1)
        }
        finally { $script:sandbox = $sb }
    }

    It 'plays a limit of its own with -RequestsPerWindow; a batch larger than the window sends no poll and few 429s' {
        $strict = Start-AbstraktSandbox -RequestsPerWindow 20 -RateWindowSec 1 -LatencyScale 0 -IgnoreIdempotencyKey
        try {
            $results = 1..60 | ForEach-Object { "limited $_" } | Start-AbstraktBatch -ThrottleLimit 50
            $stats = Get-SandboxStats $strict
            @($results | Where-Object Status -EQ 'Completed').Count | Should -Be 60
            $stats.rate_limited | Should -BeLessOrEqual (0.02 * $stats.requests_total)
            # One create per item, each waiting for its result; the batch's look at the plan's limit adds one.
            $stats.requests_total - $stats.rate_limited | Should -BeLessOrEqual 61
        }
        finally { $script:sandbox = Start-AbstraktSandbox -LatencyScale 0 -Tier Unlimited }
    }
}

Describe 'Start-AbstraktSandbox on a busy port' {
    It 'says which port is taken, with a stable id, instead of a bare socket error' {
        $busy = [Net.Sockets.TcpListener]::new([Net.IPAddress]::Loopback, 0)
        $busy.Start()
        try {
            $port = $busy.LocalEndpoint.Port
            $err = { Start-AbstraktSandbox -Port $port } | Should -Throw -PassThru
            $err.FullyQualifiedErrorId | Should -BeLike 'AbstraktSandboxPortUnavailable,*'
            "$err" | Should -BeLike "*127.0.0.1:$port*"
        }
        finally { $busy.Stop() }
        $script:sandbox = Start-AbstraktSandbox -LatencyScale 0 -Tier Unlimited
    }
}

Describe 'Stop-AbstraktSandbox' {
    It 'stops the sandbox so its address no longer answers' {
        $sb = Start-AbstraktSandbox -LatencyScale 0
        Stop-AbstraktSandbox
        { Invoke-RestMethod -Uri "$($sb.Uri)_sandbox/stats" -TimeoutSec 10 } | Should -Throw
        $script:sandbox = Start-AbstraktSandbox -LatencyScale 0 -Tier Unlimited
    }
}

Describe 'Test-AbstraktWebhookSignature' {
    BeforeAll {
        $secret = 'whsec_pester'
        $delivery = New-SignedDelivery $secret
        $body, $ts, $signature = $delivery.Body, $delivery.Timestamp, $delivery.Signature
    }

    It 'accepts a good signature' {
        Test-AbstraktWebhookSignature -Body $body -Timestamp $ts -Signature $signature -Secret $secret | Should -BeTrue
    }

    It 'rejects a tampered body, a wrong secret and a stale timestamp' {
        Test-AbstraktWebhookSignature -Body ($body + ' ') -Timestamp $ts -Signature $signature -Secret $secret | Should -BeFalse
        Test-AbstraktWebhookSignature -Body $body -Timestamp $ts -Signature $signature -Secret 'whsec_other' | Should -BeFalse
        $stale = New-SignedDelivery $secret -Timestamp ($ts - 3600)
        Test-AbstraktWebhookSignature -Body $stale.Body -Timestamp $stale.Timestamp -Signature $stale.Signature -Secret $secret | Should -BeFalse
        Test-AbstraktWebhookSignature -Body $stale.Body -Timestamp $stale.Timestamp -Signature $stale.Signature -Secret $secret -ToleranceSec 7200 | Should -BeTrue
    }
}

Describe 'ConvertFrom-AbstraktWebhook' {
    BeforeAll {
        $secret = 'whsec_pester'
        $delivery = New-SignedDelivery $secret
        $body, $ts = $delivery.Body, $delivery.Timestamp
    }

    It 'converts a verified delivery into a result' {
        $result = ConvertFrom-AbstraktWebhook -Body $body -Headers $delivery.Headers -Secret $secret
        $result.JobId | Should -Be 'job_1'
        $result.CreditsUsed | Should -Be 3
    }

    It 'refuses a delivery whose signature does not match' {
        $headers = @{ 'X-Abstrakt-Timestamp' = "$ts"; 'X-Abstrakt-Signature' = ('0' * 64) }
        { ConvertFrom-AbstraktWebhook -Body $body -Headers $headers -Secret $secret } | Should -Throw -ErrorId 'AbstraktWebhook*'
    }
}

Describe 'Help' {
    It 'has a synopsis, a description and an example for every exported cmdlet' {
        foreach ($name in (Get-Command -Module Abstrakt).Name) {
            $help = Get-Help $name -Full
            $help.Synopsis | Should -Not -BeNullOrEmpty -Because $name
            $help.Description | Should -Not -BeNullOrEmpty -Because $name
            $help.Examples.Example | Should -Not -BeNullOrEmpty -Because $name
        }
    }

    It 'finds the about topic' {
        Get-Help about_Abstrakt | Out-String | Should -Match 'Start-AbstraktBatch'
    }
}
