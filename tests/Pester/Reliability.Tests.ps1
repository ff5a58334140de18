#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0' }
# Bad input, faults and secrets as a user meets them in real pwsh: a clear error with a stable id that
# names what was wrong, retries that say why they wait, an early end that cancels, and no secret shown.

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestSupport.psm1') -Force
    Import-Module (Get-ModuleManifestPath) -Force
}

AfterAll {
    Stop-AbstraktSandbox
    Remove-Module Abstrakt -ErrorAction SilentlyContinue
}

Describe 'Bad input' {
    BeforeAll {
        $sandbox = Start-AbstraktSandbox -LatencyScale 0 -Tier Unlimited
        $file = Join-Path $TestDrive 'a-file'
        Set-Content $file 'not a directory'
        $folder = Join-Path $TestDrive 'a-folder'
        $null = New-Item -ItemType Directory $folder
        $corrupt = Join-Path $TestDrive 'corrupt.jsonl'
        Set-Content $corrupt "this is not a journal`n{`"type`":"
    }

    It 'gives <Id> naming <Mentions> for: <Command>' -ForEach @(
        @{ Command = "'a' | Start-AbstraktBatch -ThrottleLimit 0"; Id = 'ParameterArgumentValidationError'; Mentions = 'ThrottleLimit' }
        @{ Command = "'a' | Start-AbstraktBatch -Model 'no-such-model'"; Id = 'AbstraktBatchFatal.ModelNotFound'; Mentions = 'no-such-model' }
        @{ Command = "[pscustomobject]@{ Prompt = 'x'; ImageSize = 'huge' } | Start-AbstraktBatch"; Id = 'AbstraktItemFailed.InvalidInput'; Mentions = 'image_size' }
        @{ Command = "'a' | Start-AbstraktBatch -OutputDirectory `$file"; Id = 'AbstraktInvalidOutputDirectory'; Mentions = 'is a file' }
        @{ Command = "'a' | Start-AbstraktBatch -JournalPath `$corrupt -Resume"; Id = 'AbstraktJournalCorrupt'; Mentions = 'corrupt.jsonl' }
        @{ Command = "'a' | Start-AbstraktBatch -WebhookListener 'http://127.0.0.1:9/x/'"; Id = 'AbstraktWebhookListenerNeedsUrl'; Mentions = 'WebhookUrl' }
        @{ Command = "'a' | Start-AbstraktBatch -JournalPath `$folder"; Id = 'AbstraktJournalUnusable'; Mentions = 'cannot be opened' }
    ) {
        # Item errors come on the error stream, batch-fatal ones as a terminating error: take both.
        $all = try { & ([scriptblock]::Create($Command)) 2>&1 } catch { $_ }
        $errors = @($all | Where-Object { $_ -is [System.Management.Automation.ErrorRecord] })
        @($all | Where-Object { $_ -isnot [System.Management.Automation.ErrorRecord] }) | Should -BeNullOrEmpty
        $errors | Should -HaveCount 1
        $errors[0].FullyQualifiedErrorId | Should -BeLike "$Id,*"
        "$($errors[0])" | Should -BeLike "*$Mentions*"
    }

    It 'says what differs when -Resume is given the journal of another batch' {
        $journal = Join-Path $TestDrive 'batch.jsonl'
        'first', 'second' | Start-AbstraktBatch -JournalPath $journal | Out-Null
        $err = { 'other', 'second' | Start-AbstraktBatch -JournalPath $journal -Resume } | Should -Throw -PassThru
        $err.FullyQualifiedErrorId | Should -BeLike 'AbstraktJournalDiffers*'
        "$err" | Should -BeLike "*'first' in the journal, 'other' now*"
    }
}

Describe 'The error table' {
    It 'has a row for every error code the engine can report, so no failure reads as a transport fault by omission' {
        $table = [Abstrakt.PowerShell.Commands.StartAbstraktBatchCommand].Assembly.GetType('Abstrakt.PowerShell.ApiErrors', $true)
        $knows = $table.GetMethod('Knows', [Reflection.BindingFlags]'NonPublic, Static')
        $codes = [Abstrakt.Api.ErrorCodes].GetFields() | Where-Object IsLiteral | ForEach-Object { $_.GetValue($null) }
        $codes | Should -Not -BeNullOrEmpty
        foreach ($code in $codes) { $knows.Invoke($null, @($code)) | Should -BeTrue -Because "$code needs a row in ApiErrors" }
    }
}

Describe 'Faults' {
    It 'retries transient faults and says why it waits under -Verbose' {
        $null = Start-AbstraktSandbox -LatencyScale 0 -Tier Unlimited -TransientErrorRate 0.5 -Seed 3
        $all = 1..6 | ForEach-Object { "p $_" } | Start-AbstraktBatch -MaxRetry 10 -Verbose 4>&1
        @($all | Where-Object { $_ -isnot [System.Management.Automation.VerboseRecord] }) | Should -HaveCount 6
        $verbose = ($all | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] }).Message
        $verbose -like '*retry 1 of 10 in*' | Should -Not -BeNullOrEmpty
    }

    It 'cancels the job of an item that gives up on it (its deadline passed), so it is not billed' {
        # Video jobs take seconds here and creates answer 202 at once; a one-second deadline gives up while polling.
        $sandbox = Start-AbstraktSandbox -LatencyScale 0.2 -SyncTimeoutSec 0.05 -Tier Unlimited
        $null = 1..3 | ForEach-Object { @{ prompt = "clip $_" } } | Invoke-AbstraktModel minimax-video -TimeoutSec 1 -ErrorVariable failed -ErrorAction SilentlyContinue
        @($failed | Where-Object FullyQualifiedErrorId -like 'AbstraktItemFailed.DeadlineExceeded,*').Count | Should -Be 3
        $stats = Get-SandboxStats $sandbox
        $stats.jobs_created | Should -Be 3
        $stats.jobs_cancelled | Should -Be 3
        $stats.credits_charged | Should -Be 0
    }

    It 'reports a create whose answer was lost as OutcomeUnknown, again on -Resume, and resends it only with -ResubmitUnknown' {
        $sandbox = Start-AbstraktSandbox -LatencyScale 0 -Tier Unlimited -IgnoreIdempotencyKey -CutConnectionRate 0.2 -Seed 5
        $journal = Join-Path $TestDrive 'unknown.jsonl'
        $prompts = 1..30 | ForEach-Object { "lost $_" }
        $all = $prompts | Start-AbstraktBatch -JournalPath $journal -MaxRetry 10 -Verbose -ErrorVariable failed -ErrorAction SilentlyContinue 4>&1
        $unknown = @($failed | Where-Object FullyQualifiedErrorId -like 'AbstraktItemFailed.OutcomeUnknown,*')
        $unknown | Should -Not -BeNullOrEmpty
        # Exactly the creates the sandbox made a job for and then cut are reported, and the summary counts them.
        $lost = @((Get-SandboxStats $sandbox).cut_creates_by_prompt.PSObject.Properties.Name)
        @($unknown.TargetObject | Sort-Object) | Should -Be @($lost | Sort-Object)
        ($all | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] }).Message -like "*failed ($($unknown.Count) with an unknown outcome)*" | Should -Not -BeNullOrEmpty

        $null = $prompts | Start-AbstraktBatch -JournalPath $journal -Resume -RetryFailed -ErrorVariable again -ErrorAction SilentlyContinue
        @($again | Where-Object FullyQualifiedErrorId -like 'AbstraktItemFailed.OutcomeUnknown,*').TargetObject | Sort-Object | Should -Be @($lost | Sort-Object)
        (Get-SandboxStats $sandbox).jobs_created | Should -Be 30 -Because 'a resume sends no unknown outcome again'

        # A sandbox without faults, so every resent create is answered.
        $clean = Start-AbstraktSandbox -LatencyScale 0 -Tier Unlimited -IgnoreIdempotencyKey
        $resent = @($prompts | Start-AbstraktBatch -JournalPath $journal -Resume -ResubmitUnknown)
        $resent | Should -HaveCount 30
        (Get-SandboxStats $clean).jobs_created | Should -Be $lost.Count
        @((Get-SandboxStats $clean).credits_by_prompt.PSObject.Properties.Name | Sort-Object) | Should -Be @($lost | Sort-Object)
    }

    It 'stops dispatching and cancels running jobs when downstream takes the first three' {
        # Fast images between slow videos: the first three results are images, and the videos created with them are
        # certainly still running when Select-Object ends the pipeline (however fast or loaded the machine).
        $sandbox = Start-AbstraktSandbox -LatencyScale 0.5 -Tier Unlimited
        $items = 1..200 | ForEach-Object { if ($_ % 2) { [pscustomobject]@{ Prompt = "image $_"; Model = 'flux-schnell' } } else { [pscustomobject]@{ Prompt = "clip $_"; Model = 'minimax-video' } } }
        $first = $items | Start-AbstraktBatch -ThrottleLimit 8 | Select-Object -First 3
        $first | Should -HaveCount 3
        $stats = Get-SandboxStats $sandbox
        $stats.jobs_created | Should -BeLessThan 60
        $stats.jobs_cancelled | Should -BeGreaterOrEqual 1
    }
}

Describe 'Secrets' {
    It 'never shows the key or the webhook secret in any stream or file of a faulty batch' {
        $sandbox = Start-AbstraktSandbox -LatencyScale 0 -Tier Unlimited -TransientErrorRate 0.3 -InferenceFailureRate 0.2 -Seed 5
        $key = Get-PlainText $sandbox.ApiKey
        $webhookSecret = Get-PlainText $sandbox.WebhookSecret
        $listener = [Net.Sockets.TcpListener]::new([Net.IPAddress]::Loopback, 0)
        $listener.Start(); $prefix = "http://127.0.0.1:$($listener.LocalEndpoint.Port)/hook/"; $listener.Stop()
        $dir = Join-Path $TestDrive 'secrets'

        $everything = & {
            1..20 | ForEach-Object { "secret scan $_" } |
                Start-AbstraktBatch -MaxRetry 2 -Verbose -Debug -JournalPath "$dir/batch.jsonl" -OutputDirectory "$dir/out" -WebhookUrl $prefix -WebhookListener $prefix -ErrorAction Continue
            Connect-Abstrakt -Endpoint $sandbox.Uri -ApiKey $sandbox.ApiKey -Verbose
            try { 'x' | Start-AbstraktBatch -Model nope -Verbose } catch { $_ }
        } *>&1

        $seen = @($everything | ForEach-Object { $_ | Format-List * -Force | Out-String -Width 4096 })
        $seen += Get-ChildItem $dir -Recurse -File | Where-Object Extension -ne '.png' | ForEach-Object { Get-Content $_.FullName -Raw }
        $seen += Get-ChildItem $dir -Recurse -File | ForEach-Object Name
        ($everything | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] }).Count | Should -BeGreaterThan 20
        ($everything | Where-Object { $_ -is [System.Management.Automation.ErrorRecord] }) | Should -Not -BeNullOrEmpty
        $text = $seen -join "`n"
        $text | Should -Not -BeLike "*$($key.Substring(8))*"
        $text | Should -Not -BeLike "*$($webhookSecret.Substring(6))*"
    }
}
