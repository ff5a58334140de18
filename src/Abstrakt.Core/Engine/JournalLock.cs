using System;
using System.Diagnostics;
using System.Globalization;
using System.IO;

namespace Abstrakt.Engine
{
    /// <summary>
    /// Makes one process at a time the owner of a journal: an OS lock on <c>&lt;journal&gt;.lock</c>, held open for the
    /// batch's life (FileShare.None: flock on Unix, a share-deny handle on Windows), so it ends with the process
    /// however that dies. The lock file is never deleted (deleting it would let a third process lock a new file
    /// while a second still holds the old one). The owner's process id goes in <c>&lt;journal&gt;.owner</c>, which
    /// others can read, for the error they get.
    /// </summary>
    internal sealed class JournalLock : IDisposable
    {
        private readonly FileStream _lock;
        private readonly string _ownerPath;
        private bool _released;

        private JournalLock(FileStream lockStream, string ownerPath)
        {
            _lock = lockStream;
            _ownerPath = ownerPath;
        }

        /// <summary>Takes the journal, or throws JournalInUse naming the journal and its owner.</summary>
        /// <param name="journalPath">The journal's full path.</param>
        /// <returns>The lock; dispose it to release the journal.</returns>
        public static JournalLock Acquire(string journalPath)
        {
            var ownerPath = journalPath + ".owner";
            FileStream stream;
            try
            {
                stream = new FileStream(journalPath + ".lock", FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException ex) when (!LocalFailure.IsDiskFull(ex))
            {
                var owner = ReadOwner(ownerPath) is int pid ? "process " + pid.ToString(CultureInfo.InvariantCulture) : "another process";
                throw new JournalException($"The journal '{journalPath}' is in use by {owner}. Wait for that batch to end, or use another -JournalPath.", "JournalInUse");
            }

            using (var self = Process.GetCurrentProcess())
            {
                File.WriteAllText(ownerPath, self.Id.ToString(CultureInfo.InvariantCulture));
            }

            return new JournalLock(stream, ownerPath);
        }

        /// <inheritdoc/>
        public void Dispose()
        {
            // Once released, the .owner file may be the next owner's: never delete it twice.
            if (_released)
            {
                return;
            }

            _released = true;
            try
            {
                File.Delete(_ownerPath);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // Only informational; the next owner overwrites it.
            }

            _lock.Dispose();
        }

        private static int? ReadOwner(string ownerPath)
        {
            try
            {
                return int.TryParse(File.ReadAllText(ownerPath).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var pid) ? pid : null;
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                return null;
            }
        }
    }
}
