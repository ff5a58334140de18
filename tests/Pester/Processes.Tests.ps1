#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0' }
# What needs more than one pipeline or process: the progress stream, stopping a running batch, jobs
# handed from one pwsh process to another, and resuming after a pwsh process is killed.

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestSupport.psm1') -Force
    Import-Module (Get-ModuleManifestPath) -Force

    # A second runspace in this pwsh, as a host runs a pipeline: its streams can be read (progress
    # cannot be redirected) and Stop() is what Ctrl+C does.
    function New-ModuleRunspacePipeline {
        $ps = [powershell]::Create()
        $null = $ps.AddScript("Import-Module '$(Get-ModuleManifestPath)'").Invoke()
        $ps.Commands.Clear()
        $ps
    }
}

AfterAll {
    Stop-AbstraktSandbox
    Remove-Module Abstrakt -ErrorAction SilentlyContinue
}

Describe 'Progress' {
    It 'shows one aggregate bar that ends with exactly one Completed record' {
        $ps = New-ModuleRunspacePipeline
        try {
            $results = $ps.AddScript("Start-AbstraktSandbox -LatencyScale 0 -Tier Unlimited | Out-Null; 1..12 | ForEach-Object { ""prompt `$_"" } | Start-AbstraktBatch -ThrottleLimit 3").Invoke()
            $results | Should -HaveCount 12
            $progress = @($ps.Streams.Progress)
            $progress | Should -Not -BeNullOrEmpty
            @($progress | Where-Object RecordType -eq 'Completed') | Should -HaveCount 1
            $progress[-1].RecordType | Should -Be 'Completed'
            ($progress.ActivityId | Sort-Object -Unique) | Should -HaveCount 1
        }
        finally { $ps.Dispose() }
    }
}

Describe 'Stopping a batch' {
    It 'returns without waiting for running jobs and cancels every one of them' {
        $ps = New-ModuleRunspacePipeline
        try {
            $sb = $ps.AddScript('Start-AbstraktSandbox -LatencyScale 1 -SyncTimeoutSec 0.05 -Tier Unlimited').Invoke()[0]
            $ps.Commands.Clear()
            $null = $ps.AddScript('1..50 | ForEach-Object { "clip $_" } | Start-AbstraktBatch -Model minimax-video -ThrottleLimit 4')
            $pending = $ps.BeginInvoke()
            Wait-Until { (Get-SandboxStats $sb).jobs_created -ge 4 } -Because 'four video jobs to exist'
            $ps.Stop()   # what Ctrl+C does to the running pipeline
            $pending.IsCompleted | Should -BeTrue
            $ps.InvocationStateInfo.State | Should -Be 'Stopped'
            (Get-SandboxStats $sb).jobs_cancelled | Should -Be 4
        }
        finally { $ps.Dispose() }
    }
}

Describe 'Jobs across processes' {
    BeforeAll { $sandbox = Start-AbstraktSandbox -LatencyScale 0 -Tier Unlimited }

    It 'waits in this process for a job submitted by another pwsh process' {
        $child = Invoke-ChildPwsh -Sandbox $sandbox -Script "(Submit-AbstraktJob 'a job from elsewhere').JobId"
        $child.ExitCode | Should -Be 0 -Because $child.Errors
        $jobId = $child.Output.Trim()
        $jobId | Should -BeLike 'job_*'
        $done = Wait-AbstraktJob -JobId $jobId
        $done.Status | Should -Be 'Completed'
        $done.Urls | Should -Not -BeNullOrEmpty
    }
}

Describe 'Resume after the pwsh process is killed' {
    It 'completes every item once, re-attaching to the jobs the dead process created' {
        # Jobs take about a second each, so the kill lands with jobs in flight and some finished.
        $sandbox = Start-AbstraktSandbox -LatencyScale 0.5 -Tier Unlimited
        $journal = Join-Path $TestDrive 'killed.jsonl'
        $prompts = 1..30 | ForEach-Object { "resumed prompt $_" }
        Set-Content (Join-Path $TestDrive 'prompts.txt') $prompts
        $child = Start-ChildPwsh -Sandbox $sandbox -WorkingDirectory $TestDrive -Script "Get-Content ./prompts.txt | Start-AbstraktBatch -ThrottleLimit 4 -JournalPath ./killed.jsonl | Out-Null"
        try {
            Wait-Until { (Get-SandboxStats $sandbox).jobs_created -ge 8 } -Because 'the child to create eight jobs'
        }
        finally { $child.Kill() }
        $child.WaitForExit()
        $createdBeforeResume = (Get-SandboxStats $sandbox).jobs_created
        $createdBeforeResume | Should -BeLessThan 30 -Because 'the kill must land mid-batch for this test to mean anything'

        $results = Get-Content (Join-Path $TestDrive 'prompts.txt') | Start-AbstraktBatch -ThrottleLimit 4 -JournalPath $journal -Resume
        ($results.Prompt | Sort-Object) | Should -Be ($prompts | Sort-Object)
        $results.Status | Should -Not -Contain 'Failed'
        (Get-SandboxStats $sandbox).jobs_created | Should -Be 30 -Because 'a resumed item re-attaches to its job instead of creating another'
    }
}

Describe 'A journal in use by another process' {
    It 'is refused with AbstraktJournalInUse naming the journal and the owner''s process id' {
        $sandbox = Start-AbstraktSandbox -LatencyScale 1 -SyncTimeoutSec 0.05 -Tier Unlimited
        $journal = Join-Path $TestDrive 'owned.jsonl'
        $child = Start-ChildPwsh -Sandbox $sandbox -Script "1..4 | ForEach-Object { ""clip `$_"" } | Start-AbstraktBatch -Model minimax-video -JournalPath '$journal' | Out-Null"
        try {
            # The journal is locked before the first create, so a job means the child owns it.
            Wait-Until { (Get-SandboxStats $sandbox).jobs_created -ge 1 } -Because 'the other process to start its batch'
            $err = { 'x' | Start-AbstraktBatch -JournalPath $journal -Resume } | Should -Throw -PassThru
            $err.FullyQualifiedErrorId | Should -BeLike 'AbstraktJournalInUse,*'
            $err.CategoryInfo.Category | Should -Be 'ResourceBusy'
            "$err" | Should -BeLike "*$journal*"
            "$err" | Should -BeLike "*process $($child.Id)*"
        }
        finally {
            $child.Kill()
            $child.WaitForExit()
        }
    }
}
