# The README's main job, for the bundled host (no Get-Content in a bare engine): a batch of
# examples/prompts.txt against the embedded sandbox, with files written to ./out.
[IO.File]::ReadLines("$PWD/examples/prompts.txt") |
    Start-AbstraktBatch -ThrottleLimit 5 -OutputDirectory ./out
