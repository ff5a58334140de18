#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0' }
# Issue 16: batch image processing. Images in (files, -Path, URLs, CSV columns), images out (named after
# their source), proven against the sandbox's own record of what it decoded. Run after a build:
# Invoke-Pester ./tests/Pester/Images.Tests.ps1

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestSupport.psm1') -Force
    Import-Module (Get-ModuleManifestPath) -Force

    # A fresh sandbox per test, so its record of decoded inputs holds only that test's jobs.
    function Start-FreshSandbox { Start-AbstraktSandbox -LatencyScale 0 -Tier Unlimited }

    function New-Folder([string] $Name) {
        $path = Join-Path $TestDrive "$Name-$([guid]::NewGuid().ToString('N'))"
        $null = New-Item -ItemType Directory -Path $path
        $path
    }

    function Get-Sha256([string] $Path) { (Get-FileHash -LiteralPath $Path -Algorithm SHA256).Hash.ToLowerInvariant() }
}

AfterAll {
    Stop-AbstraktSandbox
    Remove-Module Abstrakt -ErrorAction SilentlyContinue
}

Describe 'Image inputs' {
    It 'upscales 50 PNG and JPEG files piped from Get-ChildItem into outputs named after them, twice their size, with the bytes the sandbox decoded matching the files' {
        $sandbox = Start-FreshSandbox
        $photos = New-Folder photos
        $sizes = @{}
        foreach ($i in 1..25) {
            $png = New-TestPng (Join-Path $photos ('IMG_{0:D4}.png' -f $i)) -Width (4 + $i) -Height (3 + 2 * $i) -Seed $i
            $sizes[$png.FullName] = (4 + $i), (3 + 2 * $i)
            $jpg = New-TestJpeg (Join-Path $photos ('DSC_{0:D4}.jpg' -f $i)) -Width (100 + 3 * $i) -Height (50 + $i) -Seed $i
            $sizes[$jpg.FullName] = (100 + 3 * $i), (50 + $i)
        }
        $out = Join-Path $TestDrive "upscaled-$([guid]::NewGuid().ToString('N'))"

        $results = @(Get-ChildItem $photos | Start-AbstraktBatch -Model image-upscaler -OutputDirectory $out -ErrorVariable failed)

        $failed | Should -BeNullOrEmpty
        $results.Count | Should -Be 50
        $decoded = (Get-SandboxStats $sandbox).input_images
        @($decoded.PSObject.Properties).Count | Should -Be 50
        foreach ($result in $results) {
            $stem = [IO.Path]::GetFileNameWithoutExtension($result.SourcePath)
            $result.Files.Count | Should -Be 1
            $result.Files[0] | Should -Be (Join-Path $out "$stem.png")
            $width, $height = $sizes[$result.SourcePath]
            $size = Get-PngSize $result.Files[0]
            $size.Width | Should -Be (2 * $width) -Because "$stem is $width wide"
            $size.Height | Should -Be (2 * $height) -Because "$stem is $height high"
            $seen = $decoded.($result.JobId)
            $seen.sha256 | Should -Be (Get-Sha256 $result.SourcePath) -Because "the sandbox decoded $stem's bytes intact"
            $seen.width | Should -Be $width
            $seen.height | Should -Be $height
        }
        @(Get-ChildItem $out).Count | Should -Be 50
    }

    It 'runs a CSV of prompts and images through image-to-image; a file over the limit, a text file named .png and a missing path are one item error each, and the others complete' {
        $sandbox = Start-FreshSandbox
        $photos = New-Folder csv
        $good = 1..3 | ForEach-Object { New-TestPng (Join-Path $photos "good$_.png") -Width (10 * $_) -Height (7 * $_) -Seed $_ }
        $big = Join-Path $photos 'huge.png'
        $bytes = [byte[]]::new(8MB + 1)
        [byte[]](0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A) | ForEach-Object -Begin { $i = 0 } -Process { $bytes[$i++] = $_ }
        [IO.File]::WriteAllBytes($big, $bytes)
        $text = Join-Path $photos 'notes.png'
        Set-Content -LiteralPath $text -Value 'this is a text file'
        $missing = Join-Path $photos 'gone.png'
        $csv = Join-Path $photos 'items.csv'
        @(
            [pscustomobject]@{ Prompt = 'as a watercolour'; Image = $good[0].FullName }
            [pscustomobject]@{ Prompt = 'too big'; Image = $big }
            [pscustomobject]@{ Prompt = 'in autumn'; Image = $good[1].FullName }
            [pscustomobject]@{ Prompt = 'not an image'; Image = $text }
            [pscustomobject]@{ Prompt = 'missing'; Image = $missing }
            [pscustomobject]@{ Prompt = 'at night'; Image = $good[2].FullName }
        ) | Export-Csv -LiteralPath $csv -NoTypeInformation
        $out = Join-Path $TestDrive "edited-$([guid]::NewGuid().ToString('N'))"

        $results = @(Import-Csv $csv | Start-AbstraktBatch -Model image-to-image -OutputDirectory $out -ErrorVariable failed -ErrorAction SilentlyContinue)

        $results.SourcePath | Sort-Object | Should -Be ($good.FullName | Sort-Object)
        $results.Prompt | Sort-Object | Should -Be 'as a watercolour', 'at night', 'in autumn'
        foreach ($result in $results) {
            $n = [int] ([IO.Path]::GetFileNameWithoutExtension($result.SourcePath) -replace 'good')
            $size = Get-PngSize $result.Files[0]
            $size.Width, $size.Height | Should -Be (10 * $n), (7 * $n) -Because 'image-to-image keeps the source''s size'
        }
        $failed.Count | Should -Be 3
        $byId = @{}
        foreach ($record in $failed) { $byId[($record.FullyQualifiedErrorId -split ',')[0]] = $record }
        $byId.Keys | Sort-Object | Should -Be 'AbstraktItemFailed.ImageNotFound', 'AbstraktItemFailed.ImageTooLarge', 'AbstraktItemFailed.NotAnImage'
        $byId['AbstraktItemFailed.ImageTooLarge'].Exception.Message | Should -BeLike '*huge.png*8 MiB*'
        $byId['AbstraktItemFailed.ImageTooLarge'].TargetObject.Image | Should -Be $big
        $byId['AbstraktItemFailed.NotAnImage'].Exception.Message | Should -BeLike '*notes.png*'
        $byId['AbstraktItemFailed.NotAnImage'].TargetObject.Image | Should -Be $text
        $byId['AbstraktItemFailed.ImageNotFound'].Exception.Message | Should -BeLike '*gone.png*'
        $byId['AbstraktItemFailed.ImageNotFound'].CategoryInfo.Category | Should -Be 'ObjectNotFound'
        (Get-SandboxStats $sandbox).jobs_created | Should -Be 3 -Because 'the bad files are refused before anything is sent'
    }

    It 'gives remove-background outputs the size of their source, with an alpha channel (Invoke-AbstraktImage -Path with a wildcard)' {
        $sandbox = Start-FreshSandbox
        $photos = New-Folder cutout
        $null = New-TestPng (Join-Path $photos 'a.png') -Width 12 -Height 9
        $null = New-TestPng (Join-Path $photos 'b.png') -Width 20 -Height 16
        $out = Join-Path $TestDrive "cut-$([guid]::NewGuid().ToString('N'))"

        $results = @(Invoke-AbstraktImage -Path (Join-Path $photos '*.png') -Model remove-background -OutputDirectory $out)

        $results.Count | Should -Be 2
        $a = Get-PngSize (Join-Path $out 'a.png')
        $a.Width, $a.Height, $a.ColourType | Should -Be 12, 9, 6
        $b = Get-PngSize (Join-Path $out 'b.png')
        $b.Width, $b.Height, $b.ColourType | Should -Be 20, 16, 6
        (Get-SandboxStats $sandbox).jobs_created | Should -Be 2
    }

    It 'never replaces an existing output without -Force, and replaces it with -Force' {
        $null = Start-FreshSandbox
        $photos = New-Folder force
        $null = New-TestPng (Join-Path $photos 'IMG_0042.png') -Width 6 -Height 5
        $out = New-Folder force-out
        Set-Content -LiteralPath (Join-Path $out 'IMG_0042.png') -Value 'keep me'

        $results = @(Get-ChildItem $photos | Start-AbstraktBatch -Model image-upscaler -OutputDirectory $out -ErrorVariable failed -ErrorAction SilentlyContinue)

        $results.Count | Should -Be 0
        $failed.Count | Should -Be 1
        $failed[0].FullyQualifiedErrorId | Should -BeLike 'AbstraktItemFailed.OutputExists,*'
        $failed[0].TargetObject.Name | Should -Be 'IMG_0042.png'
        Get-Content -LiteralPath (Join-Path $out 'IMG_0042.png') | Should -Be 'keep me'

        $forced = @(Get-ChildItem $photos | Start-AbstraktBatch -Model image-upscaler -OutputDirectory $out -Force)

        $forced.Files | Should -Be (Join-Path $out 'IMG_0042.png')
        $size = Get-PngSize (Join-Path $out 'IMG_0042.png')
        $size.Width, $size.Height | Should -Be 12, 10
    }

    It 'refuses a taken output before paying for its job' {
        $sandbox = Start-FreshSandbox
        $photos = New-Folder rerun
        $null = New-TestPng (Join-Path $photos 'IMG_0001.png') -Width 6 -Height 5 -Seed 1
        $null = New-TestPng (Join-Path $photos 'IMG_0002.png') -Width 7 -Height 5 -Seed 2
        $out = New-Folder rerun-out
        $null = Get-ChildItem $photos | Start-AbstraktBatch -Model image-upscaler -OutputDirectory $out
        $created = (Get-SandboxStats $sandbox).jobs_created

        $again = @(Get-ChildItem $photos | Start-AbstraktBatch -Model image-upscaler -OutputDirectory $out -ErrorVariable failed -ErrorAction SilentlyContinue)

        $again.Count | Should -Be 0
        @($failed | Where-Object FullyQualifiedErrorId -like 'AbstraktItemFailed.OutputExists,*').Count | Should -Be 2
        (Get-SandboxStats $sandbox).jobs_created | Should -Be $created -Because 'a re-run without -Force must not pay for outputs it will not write'
    }

    It 'gives images of the same name from two folders two outputs, none lost' {
        $null = Start-FreshSandbox
        $root = New-Folder two-folders
        $a = New-TestPng (Join-Path (New-Item -ItemType Directory (Join-Path $root 'a')) 'IMG.png') -Width 5 -Height 4 -Seed 1
        $b = New-TestPng (Join-Path (New-Item -ItemType Directory (Join-Path $root 'b')) 'IMG.png') -Width 9 -Height 3 -Seed 2
        $out = New-Folder two-folders-out

        $results = @(Get-ChildItem $root -Recurse -File | Start-AbstraktBatch -Model image-upscaler -OutputDirectory $out)

        $results.Count | Should -Be 2
        ($results.File | Sort-Object -Unique).Count | Should -Be 2
        $sizes = $results | ForEach-Object { $s = Get-PngSize $_.File; "$($s.Width)x$($s.Height)" } | Sort-Object
        $sizes | Should -Be '10x8', '18x6'
        (Get-ChildItem $out -File).Count | Should -Be 2
    }

    It 'numbers the outputs of an item with several (IMG_0042-1.png, IMG_0042-2.png)' {
        $null = Start-FreshSandbox
        $photos = New-Folder many
        $null = New-TestPng (Join-Path $photos 'IMG_0042.png') -Width 6 -Height 5
        $out = Join-Path $TestDrive "many-$([guid]::NewGuid().ToString('N'))"

        $result = Import-Csv -LiteralPath (New-Item (Join-Path $photos 'rows.csv') -Value "Prompt,Image,NumImages`nin pairs,$(Join-Path $photos 'IMG_0042.png'),2").FullName |
            Start-AbstraktBatch -Model image-to-image -OutputDirectory $out

        $result.Files | Should -Be (Join-Path $out 'IMG_0042-1.png'), (Join-Path $out 'IMG_0042-2.png')
    }

    It 'resumes by content: after the folder is renamed, done items are skipped; an edited photo is new work' {
        $sandbox = Start-FreshSandbox
        $photos = New-Folder before
        1..3 | ForEach-Object { $null = New-TestPng (Join-Path $photos "p$_.png") -Width 8 -Height 8 -Seed $_ }
        $journal = Join-Path $TestDrive "images-$([guid]::NewGuid().ToString('N')).jsonl"
        $out = Join-Path $TestDrive "resume-$([guid]::NewGuid().ToString('N'))"
        $first = @(Get-ChildItem $photos | Start-AbstraktBatch -Model image-upscaler -OutputDirectory $out -JournalPath $journal)
        $first.Count | Should -Be 3

        $renamed = "$photos-renamed"
        Move-Item -LiteralPath $photos -Destination $renamed
        $null = New-TestPng (Join-Path $renamed 'p2.png') -Width 8 -Height 8 -Seed 99

        $second = @(Get-ChildItem $renamed | Start-AbstraktBatch -Model image-upscaler -OutputDirectory $out -JournalPath $journal -Resume -Force)

        $second.Count | Should -Be 3
        ($second | Where-Object FromJournal).SourcePath | ForEach-Object { Split-Path $_ -Leaf } | Sort-Object | Should -Be 'p1.png', 'p3.png'
        ($second | Where-Object { -not $_.FromJournal }).SourcePath | Should -Be (Join-Path $renamed 'p2.png')
        (Get-SandboxStats $sandbox).jobs_created | Should -Be 4 -Because 'only the edited photo ran again'
    }

    It 'sends an http URL as it is; the sandbox fetches it on loopback and decodes what it serves' {
        $sandbox = Start-FreshSandbox
        $source = Invoke-AbstraktImage 'a harbour' -ImageSize square -OutputDirectory (New-Folder source)

        $result = $source.Url | Start-AbstraktBatch -Model image-upscaler

        $result.SourcePath | Should -Be $source.Url
        $seen = (Get-SandboxStats $sandbox).input_images.($result.JobId)
        $seen.sha256 | Should -Be (Get-Sha256 $source.Files[0])
        $seen.width, $seen.height | Should -Be 512, 512
    }

    It 'submits one job per file piped to Submit-AbstraktJob, with the image in the model''s field' {
        $sandbox = Start-FreshSandbox
        $photos = New-Folder submit
        $files = 1..2 | ForEach-Object { New-TestPng (Join-Path $photos "s$_.png") -Width (5 * $_) -Height 4 -Seed $_ }

        $jobs = @($files | Submit-AbstraktJob -Model remove-background | Wait-AbstraktJob)

        $jobs.Status | Should -Be 'Completed', 'Completed'
        $decoded = (Get-SandboxStats $sandbox).input_images
        ($jobs | ForEach-Object { $decoded.($_.JobId).sha256 }) | Sort-Object | Should -Be ($files | ForEach-Object { Get-Sha256 $_.FullName } | Sort-Object)
    }

    It 'runs two files with the same bytes once, and reports the second as a duplicate naming the first, never silently' {
        $sandbox = Start-FreshSandbox
        $photos = New-Folder twins
        $null = New-TestPng (Join-Path $photos 'a.png') -Width 6 -Height 6 -Seed 3
        Copy-Item (Join-Path $photos 'a.png') (Join-Path $photos 'b.png')
        $out = Join-Path $TestDrive "twins-$([guid]::NewGuid().ToString('N'))"

        $results = @(Get-ChildItem $photos | Start-AbstraktBatch -Model image-upscaler -OutputDirectory $out -ErrorVariable failed -ErrorAction SilentlyContinue)

        $results.SourcePath | Should -Be (Join-Path $photos 'a.png')
        $failed | Should -HaveCount 1
        $failed[0].FullyQualifiedErrorId | Should -BeLike 'AbstraktItemFailed.DuplicateId*'
        $failed[0].TargetObject.Name | Should -Be 'b.png'
        "$($failed[0])" | Should -BeLike '*same image*item 1*'
        (Get-SandboxStats $sandbox).jobs_created | Should -Be 1
    }

    It 'shows one line per image result in the table at 80 columns, its whole id and output name' {
        $null = Start-FreshSandbox
        $photos = New-Folder table
        1..3 | ForEach-Object { $null = New-TestPng (Join-Path $photos "holiday-$_.png") -Width 4 -Height 4 -Seed $_ }
        $out = Join-Path $TestDrive "table-$([guid]::NewGuid().ToString('N'))"

        $results = Get-ChildItem $photos | Start-AbstraktBatch -Model image-upscaler -OutputDirectory $out
        $rows = @(($results | Format-Table | Out-String -Width 80) -split "`r?`n" | Where-Object { $_ -match '\S' } | Select-Object -Skip 2)

        $rows | Should -HaveCount 3
        foreach ($result in $results) {
            $row = $rows | Where-Object { $_.StartsWith($result.Id) }
            $row | Should -Match ([regex]::Escape((Split-Path $result.File -Leaf))) -Because "$($result.Id) names its file"
        }
    }

    It 'prices image items under -WhatIf and in Measure-AbstraktCost without sending them, and neither prices a file that is not an image' {
        $sandbox = Start-FreshSandbox
        $photos = New-Folder price
        1..4 | ForEach-Object { $null = New-TestPng (Join-Path $photos "w$_.png") -Width 4 -Height 4 -Seed $_ }
        Set-Content -Path (Join-Path $photos 'notes.txt') -Value 'not a picture'
        $transcript = Join-Path $TestDrive "$([guid]::NewGuid().ToString('N')).txt"

        $estimate = Get-ChildItem $photos | Measure-AbstraktCost -Model image-to-image -ErrorVariable measureErrors -ErrorAction SilentlyContinue
        $null = Start-Transcript -Path $transcript
        try { Get-ChildItem $photos | Start-AbstraktBatch -Model image-to-image -Prompt 'as ink' -WhatIf -ErrorVariable whatIfErrors -ErrorAction SilentlyContinue } finally { $null = Stop-Transcript }

        $measureErrors.FullyQualifiedErrorId | Should -BeLike 'AbstraktItemFailed.NotAnImage*'
        $measureErrors.TargetObject.Name | Should -Be 'notes.txt'
        $whatIfErrors.FullyQualifiedErrorId | Should -BeLike 'AbstraktItemFailed.NotAnImage*'
        $estimate.Items | Should -Be 4
        $estimate.Credits | Should -Be 8
        (Get-Content $transcript -Raw) -replace '\s+', ' ' | Should -Match 'What if: .*4 items, 4 outputs, about 8 credits'
        (Get-SandboxStats $sandbox).jobs_created | Should -Be 0
    }

    It 'lists the image-input models with their input fields (Get-AbstraktModel -Category image-editing)' {
        $null = Start-FreshSandbox

        $models = Get-AbstraktModel -Category image-editing

        $models.Id | Sort-Object | Should -Be 'image-to-image', 'image-upscaler', 'remove-background'
        $models.ImageField | Should -Be 'image_url', 'image_url', 'image_url'
        ($models | Where-Object Id -EQ 'image-to-image').InputFields | Should -Contain 'prompt'
        (Get-AbstraktModel -Category image).ImageField | Where-Object { $_ } | Should -BeNullOrEmpty -Because 'text-to-image models take no image'
    }
}
