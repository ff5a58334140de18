#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0' }
# A batch shared through PostgreSQL, in real pwsh processes against a real PostgreSQL (a throwaway cluster
# from TestSupport's Start-TestPostgres: these tests fail, never skip, where none is found) and the sandbox.

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestSupport.psm1') -Force
    Import-Module (Get-ModuleManifestPath) -Force
    $script:pg = Start-TestPostgres
    $script:store = $pg.ConnectionString

    function New-BatchName { 'b' + [guid]::NewGuid().ToString('n').Substring(0, 10) }

    # Each item's id is "<index>-<hash>", and its idempotency keys "<batch id>:<item id>:<input hash>[:n]".
    function Get-JobsPerItem($Stats) {
        $Stats.jobs_by_idempotency_key.PSObject.Properties | Group-Object { ($_.Name -split ':')[1] } |
            ForEach-Object { [pscustomobject]@{ Item = $_.Name; Jobs = ($_.Group.Value | Measure-Object -Sum).Sum } }
    }
}

AfterAll {
    Stop-TestPostgres $script:pg
    Stop-AbstraktSandbox
    Remove-Module Abstrakt -ErrorAction SilentlyContinue
}

Describe 'Import-AbstraktBatch' {
    BeforeAll { $null = Start-AbstraktSandbox -LatencyScale 0 -Tier Unlimited }

    It 'loads each item once however often the same input is imported, and marks the batch loaded' {
        $name = New-BatchName
        $first = 1..5 | ForEach-Object { "imported $_" } | Import-AbstraktBatch -Store $store -BatchName $name
        $again = 1..5 | ForEach-Object { "imported $_" } | Import-AbstraktBatch -Store $store -BatchName $name
        $first.PSObject.TypeNames[0] | Should -Be 'Abstrakt.PowerShell.Output.AbstraktBatchInfo'
        $again.Total | Should -Be 5
        $again.Loaded | Should -BeTrue
        $again.BatchId | Should -Be $first.BatchId
    }

    It 'lets a runner given no input run the imported items' {
        $name = New-BatchName
        $null = 1..6 | ForEach-Object { "from an import $_" } | Import-AbstraktBatch -Store $store -BatchName $name
        $results = Start-AbstraktBatch -Store $store -BatchName $name
        ($results.Prompt | Sort-Object) | Should -Be (1..6 | ForEach-Object { "from an import $_" } | Sort-Object)
    }

    It 'refuses a batch made for another model with AbstraktJournalDiffers' {
        $name = New-BatchName
        $null = 'x' | Import-AbstraktBatch -Store $store -BatchName $name -Model flux-schnell
        $err = { 'y' | Import-AbstraktBatch -Store $store -BatchName $name -Model flux-dev } | Should -Throw -PassThru
        $err.FullyQualifiedErrorId | Should -BeLike 'AbstraktJournalDiffers,*'
    }
}

Describe 'Get-AbstraktBatch' {
    BeforeAll { $null = Start-AbstraktSandbox -LatencyScale 0 -Tier Unlimited }

    It 'counts done, failed and credits, per runner, and streams the results' {
        $name = New-BatchName
        $items = @(1..7 | ForEach-Object { [pscustomobject]@{ Prompt = "counted $_" } }) + [pscustomobject]@{ Prompt = 'too many'; NumImages = 9 }
        $null = $items | Start-AbstraktBatch -Store $store -BatchName $name -ErrorAction SilentlyContinue
        $status = Get-AbstraktBatch -Store $store -BatchName $name
        $status.PSObject.TypeNames[0] | Should -Be 'Abstrakt.PowerShell.Output.AbstraktBatchInfo'
        ($status.Total, $status.Done, $status.Failed, $status.InFlight, $status.CreditsUsed) | Should -Be @(8, 7, 1, 0, 7)
        $status.Runners | Should -HaveCount 1
        $status.Runners[0].ProcessId | Should -Be $PID
        ($status.Runners[0].Done, $status.Runners[0].Failed, $status.Runners[0].Ended) | Should -Be @(7, 1, $true)

        $results = Get-AbstraktBatch -Store $store -BatchName $name -IncludeResults
        $results | Should -HaveCount 7
        $results[0].PSObject.TypeNames[0] | Should -Be 'Abstrakt.PowerShell.Output.AbstraktResult'
        $results.Index | Should -Be (1..7)
        $results.Urls | Should -HaveCount 7
    }

    It 'says AbstraktBatchNotFound for a batch that does not exist' {
        $err = { Get-AbstraktBatch -Store $store -BatchName 'no-such-batch' } | Should -Throw -PassThru
        $err.FullyQualifiedErrorId | Should -BeLike 'AbstraktBatchNotFound,*'
        $err.CategoryInfo.Category | Should -Be 'ObjectNotFound'
        $err.TargetObject | Should -Be 'no-such-batch'
    }

    It 'never shows the store''s password, even when the store cannot be reached' {
        $password = 'Pg-pa55word-never-shown'
        $err = { Get-AbstraktBatch -Store "postgres://abstrakt:$password@127.0.0.1:1/postgres" -BatchName x } | Should -Throw -PassThru
        $err.FullyQualifiedErrorId | Should -BeLike 'AbstraktStoreUnavailable,*'
        "$err" | Should -BeLike '*127.0.0.1:1*'
        ($err | Out-String) + $err.Exception.ToString() | Should -Not -BeLike "*$password*"
        $runner = { 'a' | Start-AbstraktBatch -Store "Host=127.0.0.1;Port=1;Username=abstrakt;Password=$password" -BatchName x -Verbose 4>&1 }
        $err = $runner | Should -Throw -PassThru
        $err.FullyQualifiedErrorId | Should -BeLike 'AbstraktStoreUnavailable,*'
        ($err | Out-String) + $err.Exception.ToString() | Should -Not -BeLike "*$password*"
    }
}

Describe 'Stop-AbstraktBatch' {
    It 'stops a runner in another process, which cancels every job it started' {
        # Video jobs run for minutes at this scale: they are running when the stop comes.
        $sandbox = Start-AbstraktSandbox -LatencyScale 1 -SyncTimeoutSec 0.05 -Tier Unlimited
        $name = New-BatchName
        $runner = Start-ChildPwsh -Sandbox $sandbox -Script "1..20 | ForEach-Object { ""clip `$_"" } | Start-AbstraktBatch -Model minimax-video -ThrottleLimit 3 -LeaseSec 2 -Store '$store' -BatchName $name 3>&1 | Out-String"
        try {
            Wait-Until { (Get-SandboxStats $sandbox).jobs_created -ge 3 } -Because 'the runner to start three video jobs'
            $status = Stop-AbstraktBatch -Store $store -BatchName $name
            $status.StopRequestedAt | Should -Not -BeNullOrEmpty
            $runner.WaitForExit(120000) | Should -BeTrue -Because 'a stopped runner ends'
        }
        finally { if (-not $runner.HasExited) { $runner.Kill() } }
        $runner.ExitCode | Should -Be 0 -Because $runner.StdErr.Result
        $runner.StdOut.Result | Should -BeLike '*Stop-AbstraktBatch asked every runner*'
        $stats = Get-SandboxStats $sandbox
        $stats.jobs_cancelled | Should -Be $stats.jobs_created
        $stats.credits_charged | Should -Be 0
    }
}

Describe 'Many runners, one batch' {
    It 'four runner processes share 2,000 items; one is killed; every item ends once and none is billed twice' {
        $sandbox = Start-AbstraktSandbox -LatencyScale 0.02 -Tier Unlimited
        $name = New-BatchName
        $prompts = Join-Path $TestDrive 'prompts.txt'
        1..2000 | ForEach-Object { "shared prompt $_" } | Set-Content $prompts
        # Every runner is given the whole input: the first to arrive loads it, the others' rows already exist.
        # A runner that takes over an item the dead one was sending reports it (OutcomeUnknown) and goes on.
        $script = "Get-Content '$prompts' | Start-AbstraktBatch -Store '$store' -BatchName $name -ThrottleLimit 8 -LeaseSec 3 -ErrorAction Continue | Out-Null"
        $runners = 1..4 | ForEach-Object { Start-ChildPwsh -Sandbox $sandbox -Script $script }
        try {
            Wait-Until -TimeoutSec 240 { (Get-SandboxStats $sandbox).jobs_completed -ge 400 } -Because 'the runners to be well under way'
            $runners[0].Kill()   # SIGKILL: no clean-up, its leases simply stop being renewed
            $runners[0].WaitForExit()

            # From this, a fifth process, while the others run: counts that add up, agree per runner and with billing.
            $during = Get-AbstraktBatch -Store $store -BatchName $name
            $billed = (Get-SandboxStats $sandbox).credits_charged
            $during.Total | Should -Be 2000
            $during.Done | Should -BeLessThan 2000 -Because 'the batch is still running'
            ($during.Done + $during.Failed + $during.OutcomeUnknown + $during.InFlight + $during.Waiting) | Should -Be 2000
            $during.Runners | Should -HaveCount 4
            ($during.Runners.Done | Measure-Object -Sum).Sum | Should -Be $during.Done
            $during.Runners.ProcessId | Should -Contain $runners[0].Id
            $during.CreditsUsed | Should -Be $during.Done
            $during.CreditsUsed | Should -BeLessOrEqual $billed -Because 'the store records a job only once the service has it'

            foreach ($runner in $runners[1..3]) {
                $runner.WaitForExit(300000) | Should -BeTrue -Because 'the surviving runners finish the batch, the dead one''s items included'
                $runner.ExitCode | Should -Be 0 -Because $runner.StdErr.Result
            }
        }
        finally { $runners | Where-Object { -not $_.HasExited } | ForEach-Object { $_.Kill() } }

        $final = Get-AbstraktBatch -Store $store -BatchName $name
        ($final.Done + $final.OutcomeUnknown) | Should -Be 2000 -Because 'every item ends: completed, or OutcomeUnknown where the dead runner sent a create it never recorded'
        ($final.Failed, $final.InFlight, $final.Waiting) | Should -Be @(0, 0, 0)
        $final.OutcomeUnknown | Should -BeLessOrEqual 8 -Because 'only the dead runner''s creates in flight at the kill can be unknown'
        $results = Get-AbstraktBatch -Store $store -BatchName $name -IncludeResults
        $results | Should -HaveCount $final.Done
        ($results.Index | Sort-Object -Unique) | Should -HaveCount $final.Done

        $stats = Get-SandboxStats $sandbox
        @(Get-JobsPerItem $stats | Where-Object Jobs -gt 1) | Should -BeNullOrEmpty -Because 'no item had a job created twice'
        $stats.idempotent_replays | Should -Be 0 -Because 'a runner that took over an item re-attached to its recorded job rather than asking again'
        $stats.jobs_created | Should -BeGreaterOrEqual $final.Done
        $stats.jobs_created | Should -BeLessOrEqual ($final.Done + $final.OutcomeUnknown)
        $stats.credits_charged | Should -BeGreaterOrEqual $final.CreditsUsed
        ($stats.credits_charged - $final.CreditsUsed) | Should -BeLessOrEqual $final.OutcomeUnknown -Because 'the only jobs billed and not recorded are the unknown outcomes'
    }
}
