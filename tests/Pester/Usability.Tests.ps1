#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0' }
# Issue 17: the module as a PowerShell regular expects it. One Describe per area; each It reproduces a
# "Why" bullet of the issue. Run after a build: Invoke-Pester ./tests/Pester/Usability.Tests.ps1

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../../Abstrakt.psd1') -Force
    $script:sandbox = Start-AbstraktSandbox -LatencyScale 0 -Tier Unlimited

    function New-Csv([string] $Text) {
        $path = Join-Path $TestDrive "$([guid]::NewGuid().ToString('N')).csv"
        Set-Content -Path $path -Value $Text
        $path
    }
}

AfterAll {
    Stop-AbstraktSandbox
    Remove-Module Abstrakt -ErrorAction SilentlyContinue
}

Describe 'Binding pipeline input' {
    It 'sends the Prompt column of Import-Csv rows to Invoke-AbstraktImage, with the row''s model and image count' {
        $csv = New-Csv "Id,Prompt,Model,NumImages`nhero,a knight on a hill,flux-dev,2"
        $result = Import-Csv $csv | Invoke-AbstraktImage
        $result.Prompt | Should -Be 'a knight on a hill'
        $result.Model | Should -Be 'flux-dev'
        $result.Urls | Should -HaveCount 2
        $result.CreditsUsed | Should -Be 6
    }

    It 'treats an empty cell as not given: the default model and one image' {
        $csv = New-Csv "Prompt,Model,NumImages`na quiet harbour,,"
        $result = Import-Csv $csv | Invoke-AbstraktImage -Model sd3
        $result.Prompt | Should -Be 'a quiet harbour'
        $result.Model | Should -Be 'sd3'
        $result.Urls | Should -HaveCount 1
    }

    It 'binds the aliases users type: Text for the prompt, Name for the id' -TestCases @(
        @{ Command = 'Invoke-AbstraktImage' }
        @{ Command = 'Start-AbstraktBatch' }
    ) {
        $result = [pscustomobject]@{ Text = 'a paper boat'; Name = 'boat' } | & $Command
        $result.Prompt | Should -Be 'a paper boat'
        $result.Id | Should -Be 'boat'
    }

    It 'reads a hashtable''s keys as the item''s columns (<Command>)' -TestCases @(
        @{ Command = 'Invoke-AbstraktImage' }
        @{ Command = 'Start-AbstraktBatch' }
    ) {
        $result = @{ Prompt = 'a hashtable prompt'; Id = 'h1'; NumImages = 2 } | & $Command
        $result.Prompt | Should -Be 'a hashtable prompt'
        $result.Id | Should -Be 'h1'
        $result.Urls | Should -HaveCount 2
    }

    It 'refuses a row without a prompt instead of sending the whole row as text' {
        $result = [pscustomobject]@{ Description = 'a castle' } | Invoke-AbstraktImage -ErrorVariable failed -ErrorAction SilentlyContinue
        $result | Should -BeNullOrEmpty
        $failed | Should -HaveCount 1
        $failed[0].FullyQualifiedErrorId | Should -BeLike 'AbstraktEmptyPrompt,*'
    }

    It 'names the item whose prompt is empty, by its position in the input' {
        $results = 'one', '', 'three', '   ' | Start-AbstraktBatch -ErrorVariable failed -ErrorAction SilentlyContinue

        $results | Should -HaveCount 2
        $failed | Should -HaveCount 2
        "$($failed[0])" | Should -Be 'Item 2 has an empty prompt.'
        "$($failed[1])" | Should -Be 'Item 4 has an empty prompt.'
    }

    It 'warns once per batch about the columns nothing binds, naming them (<Command>)' -TestCases @(
        @{ Command = 'Invoke-AbstraktImage' }
        @{ Command = 'Start-AbstraktBatch' }
    ) {
        $csv = New-Csv "prompt,size,count`na red barn,landscape,2`na blue barn,square,3"
        $results = Import-Csv $csv | & $Command -WarningVariable warned -WarningAction SilentlyContinue
        $results | Should -HaveCount 2
        $warned | Should -HaveCount 1
        "$warned" | Should -Match '\bsize\b'
        "$warned" | Should -Match '\bcount\b'
    }

    It 'enumerates an array given to -InputObject' {
        $prompts = 'a fox', 'a hare', 'a wren'
        $results = Start-AbstraktBatch -InputObject $prompts
        $results | Should -HaveCount 3
        $results.Prompt | Sort-Object | Should -Be ($prompts | Sort-Object)
    }
}

Describe 'Results' {
    It 'has a Status enum and a separate FromJournal flag, so resumed results filter as Completed' {
        $journal = Join-Path $TestDrive 'status.jsonl'
        $null = 'one', 'two' | Start-AbstraktBatch -JournalPath $journal
        $again = 'one', 'two' | Start-AbstraktBatch -JournalPath $journal -Resume
        $again | Should -HaveCount 2
        $again[0].Status | Should -BeOfType ([Abstrakt.PowerShell.Output.AbstraktStatus])
        @($again | Where-Object Status -EQ Completed) | Should -HaveCount 2
        @($again | Where-Object FromJournal) | Should -HaveCount 2
    }

    It 'names a failed item by its Id and keeps that Id when the failure is piped back in' {
        $csv = New-Csv "Id,Prompt,NumImages`nbad-row,a storm,9"
        $null = Import-Csv $csv | Start-AbstraktBatch -ErrorVariable failed -ErrorAction SilentlyContinue
        $failed | Should -HaveCount 1
        $failed[0].Exception.Message | Should -Match "'bad-row'"
        $retry = $failed[0].TargetObject
        $retry.NumImages = 1
        ($retry | Start-AbstraktBatch).Id | Should -Be 'bad-row'
    }

    It 'names output files after the Id when one is given' {
        $out = Join-Path $TestDrive 'named'
        $result = [pscustomobject]@{ Id = 'Cover'; Prompt = 'a book cover' } | Invoke-AbstraktImage -OutputDirectory $out
        Split-Path $result.File -Leaf | Should -BeLike 'cover-*.png'
        $result.File | Should -Exist
    }

    It 'gives speech results their text as the Prompt' {
        (Invoke-AbstraktModel kokoro-tts @{ text = 'Hello there.' }).Prompt | Should -Be 'Hello there.'
    }

    It 'survives Export-Csv: first URL and file as strings, the lists joined' {
        $out = Join-Path $TestDrive 'csv'
        $result = Invoke-AbstraktImage 'two owls' -NumImages 2 -OutputDirectory $out
        $row = $result | ConvertTo-Csv | ConvertFrom-Csv
        $row.Url | Should -Be $result.Urls[0]
        $row.File | Should -Be $result.Files[0]
        $row.Urls | Should -Be ($result.Urls -join '; ')
        $row.Files | Should -Not -Match 'System\.'
    }

    It 'survives ConvertTo-Json: the duration in seconds, no expanded TimeSpan' {
        $json = Invoke-AbstraktImage 'a comet' | ConvertTo-Json | ConvertFrom-Json
        $json.DurationSec | Should -BeOfType ([double])
        $json.PSObject.Properties.Name | Should -Not -Contain 'Duration'
        $json.Urls | Should -HaveCount 1
    }

    It 'shows the whole file name in the table at 80 columns' {
        $out = Join-Path $TestDrive 'table'
        $result = [pscustomobject]@{ Id = 'poster'; Prompt = 'a very long prompt about a lighthouse at dusk in oil' } | Invoke-AbstraktImage -OutputDirectory $out
        $table = $result | Format-Table | Out-String -Width 80
        $table | Should -Match ([regex]::Escape((Split-Path $result.File -Leaf)))
    }

    It 'shows every property in the list view' {
        $list = Invoke-AbstraktImage 'a lantern' | Format-List | Out-String
        foreach ($name in 'Id', 'Status', 'FromJournal', 'Prompt', 'JobId', 'Urls', 'Attempts', 'DurationSec', 'CreditsUsed', 'InputObject') {
            $list | Should -Match "(?m)^$name\s+:" -Because $name
        }
    }
}

Describe 'WhatIf and Confirm' {
    BeforeAll {
        function Get-JobsCreated { (Invoke-RestMethod "$($script:sandbox.Uri)_sandbox/stats").jobs_created }

        # What if: lines go to the host, so a transcript catches them; the host wraps long lines.
        function Get-WhatIfText([scriptblock] $Script) {
            $path = Join-Path $TestDrive "$([guid]::NewGuid().ToString('N')).txt"
            $null = Start-Transcript -Path $path
            try { $null = & $Script } finally { $null = Stop-Transcript }
            (Get-Content $path -Raw) -replace '\s+', ' '
        }
    }

    It 'supports -WhatIf and -Confirm on <Command>, which spends credits or cancels work' -TestCases @(
        @{ Command = 'Invoke-AbstraktImage' }
        @{ Command = 'Invoke-AbstraktModel' }
        @{ Command = 'Submit-AbstraktJob' }
        @{ Command = 'Start-AbstraktBatch' }
        @{ Command = 'Stop-AbstraktJob' }
    ) {
        (Get-Command $Command).Parameters.Keys | Should -Contain 'WhatIf'
        (Get-Command $Command).Parameters.Keys | Should -Contain 'Confirm'
    }

    It 'sends nothing under -WhatIf: <Name>' -TestCases @(
        @{ Name = 'Invoke-AbstraktImage'; Script = { Invoke-AbstraktImage 'a kite' -WhatIf } }
        @{ Name = 'Invoke-AbstraktModel'; Script = { Invoke-AbstraktModel kokoro-tts @{ text = 'hi' } -WhatIf } }
        @{ Name = 'Submit-AbstraktJob'; Script = { Submit-AbstraktJob 'a kite' -WhatIf } }
        @{ Name = 'Start-AbstraktBatch'; Script = { 'a kite' | Start-AbstraktBatch -WhatIf } }
    ) {
        $before = Get-JobsCreated
        $text = Get-WhatIfText $Script
        $text | Should -Match 'What if:'
        Get-JobsCreated | Should -Be $before
    }

    It 'prices a mixed CSV item by item: each row''s model and image count at catalogue prices (<Command>)' -TestCases @(
        @{ Command = 'Start-AbstraktBatch' }
        @{ Command = 'Invoke-AbstraktImage' }
    ) {
        # flux-dev 3 x 2 + flux-schnell 1 + sd3 4 + flux-dev 3 = 14 credits.
        $csv = New-Csv "Prompt,Model,NumImages`na,flux-dev,2`nb,,`nc,sd3,`nd,flux-dev,1"
        $text = Get-WhatIfText { Import-Csv $csv | & $Command -WhatIf }
        $text | Should -Match '4 items, 5 outputs, about 14 credits'
        $text | Should -Match 'flux-dev 2 items, 3 outputs, 9 credits'
    }

    It 'refuses to stop a job that already completed, with an error naming it' {
        $job = Submit-AbstraktJob 'a pond' | Wait-AbstraktJob
        $stopped = $job | Stop-AbstraktJob -ErrorVariable failed -ErrorAction SilentlyContinue
        $stopped | Should -BeNullOrEmpty
        $failed | Should -HaveCount 1
        $failed[0].FullyQualifiedErrorId | Should -BeLike 'AbstraktJobNotCancellable,*'
        $failed[0].TargetObject | Should -Be $job.JobId
    }
}

Describe 'Connecting' {
    BeforeAll {
        $plainKey = [pscredential]::new('key', $script:sandbox.ApiKey).GetNetworkCredential().Password
    }

    AfterAll {
        Connect-Abstrakt -Sandbox
    }

    It 'checks the key when connecting, so a wrong key fails at Connect-Abstrakt' {
        $err = { Connect-Abstrakt -Endpoint $script:sandbox.Uri -ApiKey 'sk_test_not_the_right_key_9876' } | Should -Throw -PassThru
        $err.FullyQualifiedErrorId | Should -BeLike 'AbstraktUnauthorized,*'
        "$err" | Should -Not -Match 'sk_test_not'
        $err.ErrorDetails.RecommendedAction | Should -Match '\*\*\*\*9876'
    }

    It 'connects without the check with -SkipCheck' {
        { Connect-Abstrakt -Endpoint $script:sandbox.Uri -ApiKey 'sk_test_not_the_right_key_9876' -SkipCheck } | Should -Not -Throw
        (Get-AbstraktConnection).KeyHint | Should -Be '****9876'
    }

    It 'takes the key as <Kind>, returns the connection with -PassThru and shows only its last four characters' -TestCases @(
        @{ Kind = 'a SecureString'; Make = { $script:sandbox.ApiKey } }
        @{ Kind = 'a PSCredential'; Make = { [pscredential]::new('abstrakt', $script:sandbox.ApiKey) } }
        @{ Kind = 'plain text'; Make = { $plainKey } }
    ) {
        $key = & $Make
        $verbose = Connect-Abstrakt -Endpoint $script:sandbox.Uri -ApiKey $key -PassThru -Verbose 4>&1
        $connection = $verbose | Where-Object { $_ -is [Abstrakt.PowerShell.Output.AbstraktConnectionInfo] }
        $connection.KeyHint | Should -Be ('****' + $plainKey.Substring($plainKey.Length - 4))
        $printed = ($verbose | Out-String) + (Get-AbstraktConnection | Format-List * | Out-String)
        $printed | Should -Not -Match ([regex]::Escape($plainKey.Substring(0, $plainKey.Length - 4)))
        $printed | Should -Not -Match ([regex]::Escape($plainKey.Substring(0, 8)))
    }

    It 'says $env:ABSTRAKT_API_KEY when there is no key' {
        $saved = $env:ABSTRAKT_API_KEY
        try {
            $env:ABSTRAKT_API_KEY = $null
            $err = { Connect-Abstrakt } | Should -Throw -PassThru
            "$err" | Should -Match ([regex]::Escape('$env:ABSTRAKT_API_KEY'))
        }
        finally { $env:ABSTRAKT_API_KEY = $saved }
    }

    It 'gives no .NET "(Parameter ...)" suffix for a bad endpoint' {
        $err = { Connect-Abstrakt -Endpoint 'http://example.org' -ApiKey 'sk_test_x' } | Should -Throw -PassThru
        $err.FullyQualifiedErrorId | Should -BeLike 'AbstraktInvalidEndpoint,*'
        "$err" | Should -Not -Match '\(Parameter '''
    }

    It 'says "did you mean" for an unknown model, without REST paths' {
        Connect-Abstrakt -Sandbox
        $err = { 'a' | Start-AbstraktBatch -Model flux-pro } | Should -Throw -PassThru
        "$err" | Should -Match 'Did you mean flux-dev'
        "$err" | Should -Not -Match '/v1/'
    }
}

Describe 'Model catalogue' {
    It 'matches wildcards' {
        $ids = (Get-AbstraktModel flux*).Id
        $ids | Should -Contain 'flux-dev'
        $ids | Should -Contain 'flux-schnell'
        $ids | Should -Not -Contain 'sd3'
    }

    It 'takes ids from the pipeline' {
        ('flux-dev', 'sd3' | Get-AbstraktModel).Id | Should -Be @('flux-dev', 'sd3')
    }

    It 'refuses an unknown -Category instead of returning nothing, and completes the valid ones' {
        { Get-AbstraktModel -Category images } | Should -Throw -ErrorId 'ParameterArgumentValidationError,*'
        $line = 'Get-AbstraktModel -Category '
        (TabExpansion2 -inputScript $line -cursorColumn $line.Length).CompletionMatches.CompletionText | Should -Contain 'image'
    }

    It 'gives the input schema as an object' {
        $schema = (Get-AbstraktModel -Id flux-dev).InputSchema
        $schema | Should -Not -BeOfType ([string])
        $schema.properties.prompt.type | Should -Be 'string'
        $schema.required | Should -Contain 'prompt'
    }

    It 'refuses a model of the wrong kind before sending anything' {
        $err = { Invoke-AbstraktImage 'a cat' -Model kokoro-tts } | Should -Throw -PassThru
        $err.FullyQualifiedErrorId | Should -BeLike 'AbstraktWrongModelKind,*'
        "$err" | Should -Match 'Invoke-AbstraktModel'
    }

    It 'refuses a CSV row whose model is of the wrong kind, and runs the others' {
        $csv = New-Csv "Prompt,Model`nhello,kokoro-tts`na cat,flux-schnell"
        $results = Import-Csv $csv | Invoke-AbstraktImage -ErrorVariable failed -ErrorAction SilentlyContinue
        $results.Prompt | Should -Be 'a cat'
        $failed | Should -HaveCount 1
        $failed[0].FullyQualifiedErrorId | Should -BeLike 'AbstraktWrongModelKind,*'
        $failed[0].TargetObject.Model | Should -Be 'kokoro-tts'
    }
}

Describe 'Progress that knows the total' {
    BeforeAll {
        # Progress records cannot be redirected in pwsh; a second runspace collects them in its Progress stream.
        function Get-BatchProgress([string] $Script, [hashtable] $Arguments) {
            $ps = [powershell]::Create()
            try {
                $null = $ps.AddScript("param(`$manifest, `$arguments) Import-Module `$manifest; `$null = Start-AbstraktSandbox -LatencyScale 0.02 -Tier Unlimited; & { $Script } @arguments | Out-Null; Stop-AbstraktSandbox")
                $null = $ps.AddArgument((Join-Path $PSScriptRoot '../../Abstrakt.psd1')).AddArgument($Arguments)
                $null = $ps.Invoke()
                $ps.Streams.Error | Should -BeNullOrEmpty
                @($ps.Streams.Progress | Where-Object RecordType -EQ Processing)
            }
            finally { $ps.Dispose() }
        }
    }

    It 'shows a percentage and seconds remaining from the first record for -InputFile <Name>' -TestCases @(
        @{ Name = 'prompts.txt'; Lines = { 1..300 | ForEach-Object { "prompt number $_" } } }
        @{ Name = 'items.csv'; Lines = { 'Id,Prompt'; 1..300 | ForEach-Object { "item$_,""a prompt, with a comma $_""" } } }
        @{ Name = 'items.jsonl'; Lines = { 1..300 | ForEach-Object { "{""prompt"":""json prompt $_"",""id"":""j$_""}" } } }
    ) {
        $path = Join-Path $TestDrive $Name
        & $Lines | Set-Content $path
        $records = Get-BatchProgress 'param($path) Start-AbstraktBatch -InputFile $path -ThrottleLimit 4' @{ path = $path }
        $records.Count | Should -BeGreaterThan 0
        $records[0].PercentComplete | Should -BeGreaterOrEqual 0
        $records[0].SecondsRemaining | Should -BeGreaterOrEqual 0
        $records | ForEach-Object { $_.StatusDescription | Should -Match '/300 done' }
    }

    It 'reads each row of a CSV input file as an item with its columns' {
        $path = Join-Path $TestDrive 'rows.csv'
        "Id,Prompt,NumImages`nfirst,""a quoted, prompt"",2`nsecond,plain,`n" | Set-Content $path
        $results = Start-AbstraktBatch -InputFile $path
        $results | Should -HaveCount 2
        ($results | Where-Object Id -EQ first).Prompt | Should -Be 'a quoted, prompt'
        ($results | Where-Object Id -EQ first).Urls | Should -HaveCount 2
    }

    It 'reads the API''s own field names in a JSON-lines input file (num_images, image_size)' {
        $path = Join-Path $TestDrive 'api.jsonl'
        '{"prompt":"two of these","num_images":2,"image_size":"landscape_16_9"}' | Set-Content $path

        $results = Start-AbstraktBatch -InputFile $path -WarningVariable unbound -WarningAction SilentlyContinue

        $results.Urls | Should -HaveCount 2
        $unbound | Should -BeNullOrEmpty -Because 'both fields bind'
    }

    It 'sends a custom image size as an object, from a JSON-lines file, a hashtable or a JSON object' {
        $path = Join-Path $TestDrive 'custom.jsonl'
        '{"prompt":"a wide one","image_size":{"width":512,"height":256}}' | Set-Content $path

        $fromFile = Start-AbstraktBatch -InputFile $path -ErrorVariable fileErrors -ErrorAction SilentlyContinue
        $fromHashtable = [pscustomobject]@{ Prompt = 'a wide one too'; ImageSize = @{ width = 512; height = 256 } } | Start-AbstraktBatch -ErrorVariable tableErrors -ErrorAction SilentlyContinue
        $fromJson = '{"Prompt":"and a third","ImageSize":{"width":512,"height":256}}' | ConvertFrom-Json | Start-AbstraktBatch -ErrorVariable jsonErrors -ErrorAction SilentlyContinue

        @($fileErrors) + @($tableErrors) + @($jsonErrors) | Should -BeNullOrEmpty
        $fromFile.Status, $fromHashtable.Status, $fromJson.Status | Should -Be 'Completed', 'Completed', 'Completed'
    }

    It 'takes a -TotalCount hint for pipeline input' {
        $records = Get-BatchProgress '1..300 | ForEach-Object { "p $_" } | Start-AbstraktBatch -ThrottleLimit 4 -TotalCount 300' @{}
        $records.Count | Should -BeGreaterThan 0
        $records[0].PercentComplete | Should -BeGreaterOrEqual 0
        $records[0].SecondsRemaining | Should -BeGreaterOrEqual 0
    }
}

Describe 'Jobs' {
    It 'saves the outputs of <Command> -OutputDirectory, named as the batch names them' -TestCases @(
        @{ Command = 'Wait-AbstraktJob' }
        @{ Command = 'Get-AbstraktJob' }
    ) {
        $out = Join-Path $TestDrive $Command
        $job = Submit-AbstraktJob 'a koi pond' -Input @{ num_images = 2 } | Wait-AbstraktJob
        $saved = $job | & $Command -OutputDirectory $out
        $saved.Files | Should -HaveCount 2
        $saved.Files | ForEach-Object { $_ | Should -Exist }
        $saved.Files | ForEach-Object { Split-Path $_ -Leaf } | Should -Be @("flux-schnell-$($job.JobId)-1.png", "flux-schnell-$($job.JobId)-2.png")
    }

    It 'shows progress with the job''s state and the time waited while Wait-AbstraktJob waits' {
        $ps = [powershell]::Create()
        try {
            $null = $ps.AddScript('param($manifest) Import-Module $manifest; $null = Start-AbstraktSandbox -LatencyScale 1 -Tier Unlimited; Submit-AbstraktJob "a slow one" -Model flux-dev | Wait-AbstraktJob | Out-Null; Stop-AbstraktSandbox')
            $null = $ps.AddArgument((Join-Path $PSScriptRoot '../../Abstrakt.psd1'))
            $null = $ps.Invoke()
            $ps.Streams.Error | Should -BeNullOrEmpty
            $waiting = @($ps.Streams.Progress | Where-Object RecordType -EQ Processing)
            $waiting.Count | Should -BeGreaterThan 0
            $waiting[-1].StatusDescription | Should -Match 'job_\w+ is (pending|processing), \d+ s'
            $ps.Streams.Progress[-1].RecordType | Should -Be 'Completed'
        }
        finally { $ps.Dispose() }
    }

    It 'says in one line, on Ctrl+C, what was cancelled and how to resume' {
        # A child pwsh: its console host prints the note; stopping a pipeline there is what Ctrl+C does.
        $journal = Join-Path $TestDrive 'stopped.jsonl'
        $script = Join-Path $TestDrive 'stop.ps1'
        Set-Content $script @'
param($manifest, $journal)
Import-Module $manifest
$runspace = [runspacefactory]::CreateRunspace($Host)
$runspace.Open()
$ps = [powershell]::Create()
$ps.Runspace = $runspace
$null = $ps.AddScript('param($manifest, $journal) Import-Module $manifest; $null = Start-AbstraktSandbox -LatencyScale 0.05 -Tier Unlimited; 1..2000 | ForEach-Object { "p $_" } | Start-AbstraktBatch -ThrottleLimit 2 -JournalPath $journal')
$null = $ps.AddArgument($manifest).AddArgument($journal)
$output = [System.Management.Automation.PSDataCollection[psobject]]::new()
$null = $ps.BeginInvoke([System.Management.Automation.PSDataCollection[psobject]]::new(), $output)
while ($output.Count -lt 3 -and $ps.InvocationStateInfo.State -eq 'Running') { Start-Sleep -Milliseconds 50 }
$ps.Stop()
'@
        $pwsh = Join-Path $PSHOME $(if ($IsWindows) { 'pwsh.exe' } else { 'pwsh' })
        $printed = & $pwsh -NoProfile -NonInteractive -File $script (Join-Path $PSScriptRoot '../../Abstrakt.psd1') $journal 2>&1 | Out-String
        $note = @($printed -split "`r?`n" | Where-Object { $_ -match 'Stopped:' })
        $note | Should -HaveCount 1
        $note[0] | Should -Match '\d+ done, \d+ failed; \d+ in flight: their jobs, where the service had started one, are being cancelled'
        $note[0] | Should -Match ([regex]::Escape("-Resume (journal $journal)"))
    }
}

Describe 'Package and plans' {
    It 'ships the user README in the package, not the repository''s' {
        $out = Join-Path $TestDrive 'package'
        & (Join-Path $PSScriptRoot '../../build.ps1') -Task Package -NoBuild -OutputPath $out
        $version = @(Get-ChildItem (Join-Path $out 'Abstrakt') -Directory)
        $version | Should -HaveCount 1
        $packaged = Join-Path $version[0].FullName 'README.md'
        Get-Content $packaged -Raw | Should -Be (Get-Content (Join-Path $PSScriptRoot '../../docs/package/README.md') -Raw)
        Get-Content $packaged -Raw | Should -Match 'Install-PSResource Abstrakt'
    }

    Context 'a sandbox on the Free plan' {
        BeforeAll {
            $null = Start-AbstraktSandbox -LatencyScale 0 -Tier Free -TimeScale 0.01
        }

        AfterAll {
            $script:sandbox = Start-AbstraktSandbox -LatencyScale 0 -Tier Unlimited
        }

        It 'runs batches at the Free plan''s concurrency, learned from the service''s rate-limit header' {
            $messages = 1..6 | ForEach-Object { "p $_" } | Start-AbstraktBatch -ThrottleLimit 8 -Verbose 4>&1 |
                Where-Object { $_ -is [System.Management.Automation.VerboseRecord] } | ForEach-Object Message
            $messages | Should -Contain ($messages | Where-Object { $_ -match 'limit of 10 requests per window: at most 2 at once' })
        }

        It 'learns the plan from the first create''s answer, with no request of its own in the plan''s small window' {
            $fresh = Start-AbstraktSandbox -LatencyScale 0 -Tier Free -TimeScale 0.01
            $messages = 'only one' | Start-AbstraktBatch -ThrottleLimit 8 -Verbose 4>&1 |
                Where-Object { $_ -is [System.Management.Automation.VerboseRecord] } | ForEach-Object Message
            (Invoke-RestMethod "$($fresh.Uri)_sandbox/stats").requests_total | Should -Be 1 -Because 'the one create, which waits for its result before any answer has told the limit'
            $messages | Should -Contain ($messages | Where-Object { $_ -match 'limit of 10 requests per window: at most 2 at once' })
        }
    }
}

Describe 'Measure-AbstraktCost' {
    It 'returns the per-item estimate of a mixed CSV as an object, the same numbers -WhatIf prints' {
        # flux-dev 3 x 2 + flux-schnell 1 + sd3 4 + flux-dev 3 = 14 credits.
        $csv = New-Csv "Prompt,Model,NumImages`na,flux-dev,2`nb,,`nc,sd3,`nd,flux-dev,1"
        $estimate = Import-Csv $csv | Measure-AbstraktCost
        $estimate.Items | Should -Be 4
        $estimate.Outputs | Should -Be 5
        $estimate.Credits | Should -Be 14
        ($estimate.ByModel | Where-Object Model -EQ flux-dev).Credits | Should -Be 9
    }

    It 'shows each model''s share as words in a list view, not as a type name' {
        $csv = New-Csv "Prompt,Model,NumImages`na,flux-dev,2`nb,flux-schnell,"
        $list = Import-Csv $csv | Measure-AbstraktCost | Format-List | Out-String -Width 200
        $list | Should -Match 'ByModel\s*:\s*\{flux-dev 1 item, 2 outputs, 6 credits, flux-schnell 1 item, 1 output, 1 credit\}'
        $list | Should -Not -Match 'AbstraktModelCost'
    }

    It 'prices only what a batch would send: blank lines are skipped and a bad cell is that row''s error' {
        $lines = 'one', '', '   ', 'two'
        (($lines | Measure-AbstraktCost -ErrorVariable blankErrors).Items) | Should -Be 2
        $blankErrors | Should -BeNullOrEmpty -Because 'a blank line is not priced, and not an error'
        $csv = New-Csv "Prompt,NumImages`na,1`nb,abc`nc,2"
        $estimate = Import-Csv $csv | Measure-AbstraktCost -ErrorVariable bad -ErrorAction SilentlyContinue
        $estimate.Items | Should -Be 2
        $bad | Should -HaveCount 1
        "$($bad[0])" | Should -BeLike '*row 2*NumImages*abc*'
    }

    It 'never prices or sends an order of no images: NumImages 0 or below is that row''s error' {
        $csv = New-Csv "Prompt,NumImages`na,1`nnone,0`nless,-1"
        $estimate = Import-Csv $csv | Measure-AbstraktCost -ErrorVariable bad -ErrorAction SilentlyContinue
        $estimate.Items | Should -Be 1
        $estimate.Outputs | Should -Be 1
        $bad | Should -HaveCount 2
        "$($bad[0])" | Should -BeLike "*row 2*NumImages*'0'*1 or more*"
        "$($bad[1])" | Should -BeLike "*row 3*NumImages*'-1'*"
        $bad[0].FullyQualifiedErrorId | Should -BeLike 'AbstraktInvalidInput,*'
    }
}
