# Shared by the Pester files: the built module's path, the sandbox's counters, and fresh pwsh processes
# (for what only a separate process shows: no connection, a second machine, a kill).
$script:Root = [IO.Path]::GetFullPath([IO.Path]::Combine($PSScriptRoot, '..', '..'))
. ([IO.Path]::Combine($script:Root, 'tools', 'scripts', 'PwshCommand.ps1'))

function Get-ModuleManifestPath { [IO.Path]::Combine($script:Root, 'Abstrakt.psd1') }

function Get-RepositoryRoot { $script:Root }

# The sandbox's counters (GET /_sandbox/stats): jobs created and cancelled, requests, credits.
function Get-SandboxStats([Parameter(Mandatory)] $Sandbox) {
    Invoke-RestMethod -Uri "$($Sandbox.Uri)_sandbox/stats"
}

function Get-PlainText([Parameter(Mandatory)] [securestring] $Secure) {
    [System.Net.NetworkCredential]::new('', $Secure).Password
}

# A webhook delivery signed as the service signs it: HMAC-SHA256 over "timestamp.body", lowercase hex
# (written out: Windows PowerShell 5.1 has no Convert.ToHexString).
function New-SignedDelivery([Parameter(Mandatory)] [string] $Secret, [long] $Timestamp = [DateTimeOffset]::UtcNow.ToUnixTimeSeconds()) {
    $body = '{"job_id":"job_1","status":"succeeded","model_id":"flux-dev","output":{"items":[{"url":"http://127.0.0.1/a.png"}]},"credits_used":3}'
    $hmac = [System.Security.Cryptography.HMACSHA256]::new([Text.Encoding]::UTF8.GetBytes($Secret))
    $signature = -join ($hmac.ComputeHash([Text.Encoding]::UTF8.GetBytes("$Timestamp.$body")) | ForEach-Object { $_.ToString('x2') })
    [pscustomobject]@{ Body = $body; Timestamp = $Timestamp; Signature = $signature; Headers = @{ 'X-Abstrakt-Timestamp' = "$Timestamp"; 'X-Abstrakt-Signature' = $signature } }
}

# Starts a fresh pwsh running $Script with the module imported; returns the process, its output going
# to files. -Sandbox connects the child to it first (the way a second machine would); -NoImport leaves
# the module out (for a child that installs it).
function Start-ChildPwsh {
    param([Parameter(Mandatory)] [string] $Script, $Sandbox, [string] $WorkingDirectory = $PWD.ProviderPath, [hashtable] $Environment = @{}, [switch] $NoImport)
    $prelude = "`$ErrorActionPreference = 'Stop'`n"
    if (-not $NoImport) { $prelude += "Import-Module '$(Get-ModuleManifestPath)'`n" }
    if ($Sandbox) {
        $prelude += "Connect-Abstrakt -Endpoint '$($Sandbox.Uri)' -ApiKey (ConvertTo-SecureString '$(Get-PlainText $Sandbox.ApiKey)' -AsPlainText -Force)`n"
    }
    $file = [IO.Path]::Combine([IO.Path]::GetTempPath(), "abstrakt-child-$([guid]::NewGuid().ToString('n')).ps1")
    [IO.File]::WriteAllText($file, $prelude + $Script)
    $pwsh = Get-PwshCommand
    $info = [Diagnostics.ProcessStartInfo]::new($pwsh.FilePath)
    # Quoted by hand: Windows PowerShell's .NET has no ProcessStartInfo.ArgumentList.
    $info.Arguments = (@($pwsh.Prefix) + @('-NoProfile', '-NonInteractive', '-File', $file) | ForEach-Object { '"' + $_ + '"' }) -join ' '
    $info.WorkingDirectory = $WorkingDirectory
    $info.RedirectStandardOutput = $true
    $info.RedirectStandardError = $true
    $info.UseShellExecute = $false
    foreach ($name in $Environment.Keys) { $info.Environment[$name] = $Environment[$name] }
    $process = [Diagnostics.Process]::Start($info)
    # Read both streams as they come so a chatty child never blocks on a full pipe.
    $process | Add-Member -NotePropertyName StdOut -NotePropertyValue $process.StandardOutput.ReadToEndAsync()
    $process | Add-Member -NotePropertyName StdErr -NotePropertyValue $process.StandardError.ReadToEndAsync() -PassThru
}

# Runs $Script in a fresh pwsh to the end; returns exit code, output and error text.
function Invoke-ChildPwsh {
    param([Parameter(Mandatory)] [string] $Script, $Sandbox, [string] $WorkingDirectory = $PWD.ProviderPath, [hashtable] $Environment = @{}, [int] $TimeoutSec = 300, [switch] $NoImport)
    $process = Start-ChildPwsh -Script $Script -Sandbox $Sandbox -WorkingDirectory $WorkingDirectory -Environment $Environment -NoImport:$NoImport
    if (-not $process.WaitForExit($TimeoutSec * 1000)) {
        $process.Kill()
        throw "The child pwsh did not finish within $TimeoutSec s."
    }
    [pscustomobject]@{ ExitCode = $process.ExitCode; Output = $process.StdOut.Result; Errors = $process.StdErr.Result }
}

# Waits until $Condition is true, polling; throws after $TimeoutSec (generous: the machine may be loaded).
function Wait-Until([Parameter(Mandatory)] [scriptblock] $Condition, [int] $TimeoutSec = 120, [string] $Because = 'the condition') {
    $deadline = [DateTime]::UtcNow.AddSeconds($TimeoutSec)
    while (-not (& $Condition)) {
        if ([DateTime]::UtcNow -gt $deadline) { throw "Timed out after $TimeoutSec s waiting for $Because." }
        Start-Sleep -Milliseconds 50
    }
}

# A throwaway PostgreSQL cluster (tests/Shared/pg-cluster.sh: initdb into a temporary folder as an unprivileged
# user, a free loopback port), or the server named by $env:ABSTRAKT_TEST_PG. Where no PostgreSQL is found this
# throws and says so: the tests that need it fail, never skip.
function Start-TestPostgres {
    if ($env:ABSTRAKT_TEST_PG) { return [pscustomobject]@{ ConnectionString = $env:ABSTRAKT_TEST_PG; Directory = $null; Port = $null } }
    $script = [IO.Path]::Combine($script:Root, 'tests', 'Shared', 'pg-cluster.sh')
    $failure = $null
    foreach ($attempt in 1..3) {
        $listener = [Net.Sockets.TcpListener]::new([Net.IPAddress]::Loopback, 0)
        $listener.Start()
        $port = $listener.LocalEndpoint.Port
        $listener.Stop()
        $output = & bash $script start $port 2>&1
        if ($LASTEXITCODE -eq 3) { throw "No PostgreSQL found, so this test fails (it is never skipped): $output Install PostgreSQL (Debian: apt-get install postgresql) or set ABSTRAKT_TEST_PG to a connection string." }
        if ($LASTEXITCODE -eq 0) {
            $dir, $connection = "$output".Trim().Split("`t")
            return [pscustomobject]@{ ConnectionString = $connection; Directory = $dir; Port = $port }
        }
        $failure = "$output"  # most likely the port was taken meanwhile: try another
    }
    throw "The test PostgreSQL cluster did not start: $failure"
}

# A new, empty database in the cluster; returns its connection string.
function New-TestPostgresDatabase([Parameter(Mandatory)] $Postgres) {
    $name = 't' + [guid]::NewGuid().ToString('n').Substring(0, 12)
    if (-not $Postgres.Port) { throw 'New-TestPostgresDatabase needs a cluster started by Start-TestPostgres.' }
    $output = & bash ([IO.Path]::Combine($script:Root, 'tests', 'Shared', 'pg-cluster.sh')) createdb $Postgres.Port $name 2>&1
    if ($LASTEXITCODE -ne 0) { throw "createdb failed: $output" }
    $Postgres.ConnectionString -replace 'Database=\w+', "Database=$name"
}

# Stops the cluster at once (pg_ctl stop -m immediate) and deletes its folder.
function Stop-TestPostgres($Postgres) {
    if ($Postgres.Directory) { $null = & bash ([IO.Path]::Combine($script:Root, 'tests', 'Shared', 'pg-cluster.sh')) stop $Postgres.Directory 2>&1 }
}

# A tiny PNG writer (truecolour, zlib through .NET's ZLibStream, CRC-32 by table), so image tests need no System.Drawing.
$script:CrcTable = [uint32[]]::new(256)
for ($n = 0; $n -lt 256; $n++) {
    [long] $c = $n
    for ($k = 0; $k -lt 8; $k++) { $c = if ($c -band 1) { 0xEDB88320L -bxor ($c -shr 1) } else { $c -shr 1 } }
    $script:CrcTable[$n] = [uint32] $c
}

function Get-Crc32([byte[]] $Bytes) {
    [long] $crc = 0xFFFFFFFFL
    foreach ($b in $Bytes) { $crc = [long] $script:CrcTable[($crc -bxor $b) -band 0xFF] -bxor ($crc -shr 8) }
    [uint32] ($crc -bxor 0xFFFFFFFFL)
}

function ConvertTo-BigEndian([uint32] $Value) { $b = [BitConverter]::GetBytes($Value); [array]::Reverse($b); , $b }

# Writes a valid PNG of the given size; -Seed varies its pixels (so files of one size differ in content).
function New-TestPng([Parameter(Mandatory)] [string] $Path, [int] $Width = 8, [int] $Height = 8, [int] $Seed = 0) {
    $Path = $ExecutionContext.SessionState.Path.GetUnresolvedProviderPathFromPSPath($Path)
    $raw = [byte[]]::new($Height * ($Width * 3 + 1))
    for ($y = 0; $y -lt $Height; $y++) {
        for ($x = 0; $x -lt $Width * 3; $x++) { $raw[$y * ($Width * 3 + 1) + 1 + $x] = [byte](($x * 7 + $y * 13 + $Seed * 31) % 256) }
    }
    $packed = [IO.MemoryStream]::new()
    $zlib = [IO.Compression.ZLibStream]::new($packed, [IO.Compression.CompressionLevel]::Fastest, $true)
    $zlib.Write($raw, 0, $raw.Length); $zlib.Dispose()
    $out = [IO.MemoryStream]::new()
    $out.Write([byte[]](0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A), 0, 8)
    $chunk = {
        param([string] $Type, [byte[]] $Data)
        $typed = [Text.Encoding]::ASCII.GetBytes($Type) + $Data
        $out.Write((ConvertTo-BigEndian $Data.Length), 0, 4)
        $out.Write($typed, 0, $typed.Length)
        $out.Write((ConvertTo-BigEndian (Get-Crc32 $typed)), 0, 4)
    }
    & $chunk 'IHDR' ((ConvertTo-BigEndian $Width) + (ConvertTo-BigEndian $Height) + [byte[]](8, 2, 0, 0, 0))
    & $chunk 'IDAT' $packed.ToArray()
    & $chunk 'IEND' ([byte[]]@())
    [IO.File]::WriteAllBytes($Path, $out.ToArray())
    Get-Item -LiteralPath $Path
}

# Writes the header of a baseline JPEG (SOI, APP0, SOF0 with the size, EOI): what a reader of dimensions needs.
function New-TestJpeg([Parameter(Mandatory)] [string] $Path, [int] $Width = 8, [int] $Height = 8, [int] $Seed = 0) {
    $Path = $ExecutionContext.SessionState.Path.GetUnresolvedProviderPathFromPSPath($Path)
    $size = { param([int] $v) [byte[]](@((($v -shr 8) -band 0xFF), ($v -band 0xFF))) }
    $bytes = [byte[]](0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10) + [Text.Encoding]::ASCII.GetBytes("JFIF`0") + [byte[]](1, 1, 0, 0, 1, 0, 1, 0, 0) +
        [byte[]](0xFF, 0xFE, 0x00, 0x04) + (& $size $Seed) +
        [byte[]](0xFF, 0xC0, 0x00, 0x11, 8) + (& $size $Height) + (& $size $Width) + [byte[]](3, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1) +
        [byte[]](0xFF, 0xD9)
    [IO.File]::WriteAllBytes($Path, $bytes)
    Get-Item -LiteralPath $Path
}

# Width and height of a PNG, from its IHDR.
function Get-PngSize([Parameter(Mandatory)] [string] $Path) {
    $Path = $ExecutionContext.SessionState.Path.GetUnresolvedProviderPathFromPSPath($Path)
    $b = [int[]] [IO.File]::ReadAllBytes($Path)
    [pscustomobject]@{ Width = ($b[16] -shl 24) -bor ($b[17] -shl 16) -bor ($b[18] -shl 8) -bor $b[19]; Height = ($b[20] -shl 24) -bor ($b[21] -shl 16) -bor ($b[22] -shl 8) -bor $b[23]; ColourType = $b[25] }
}

Export-ModuleMember -Function Start-TestPostgres, New-TestPostgresDatabase, Stop-TestPostgres, New-TestPng, New-TestJpeg, Get-PngSize, New-SignedDelivery, Get-ModuleManifestPath, Get-RepositoryRoot, Get-SandboxStats, Get-PlainText, Start-ChildPwsh, Invoke-ChildPwsh, Wait-Until
