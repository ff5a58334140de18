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

Export-ModuleMember -Function Start-TestPostgres, New-TestPostgresDatabase, Stop-TestPostgres, New-SignedDelivery, Get-ModuleManifestPath, Get-RepositoryRoot, Get-SandboxStats, Get-PlainText, Start-ChildPwsh, Invoke-ChildPwsh, Wait-Until
