using System;
using System.IO;
using System.Runtime.InteropServices;
using Abstrakt.Api;

namespace Abstrakt.Engine
{
    /// <summary>
    /// Turns an exception that is not an API failure (a file that cannot be written, a full disk, a bug) into
    /// the item's failure, so nothing that happens inside an item can escape the engine and hang the batch.
    /// </summary>
    internal static class LocalFailure
    {
        // Win32 ERROR_HANDLE_DISK_FULL and ERROR_DISK_FULL (as HRESULTs), and on Unix the raw errno .NET puts in HResult.
        private const int WinHandleDiskFull = 0x27;
        private const int WinDiskFull = 0x70;
        private const int Enospc = 28;
        private const int EdquotLinux = 122;
        private const int EdquotBsd = 69;

        /// <summary>The failure for <paramref name="ex"/> raised while working on <paramref name="item"/>.</summary>
        /// <param name="item">The item.</param>
        /// <param name="ex">What was thrown.</param>
        /// <returns>DISK_FULL (batch-fatal), LOCAL_IO_FAILURE or UNEXPECTED_FAILURE (this item fails).</returns>
        public static AbstraktApiException For(WorkItem item, Exception ex)
        {
            var io = Find<IOException>(ex);
            if (io is not null && IsDiskFull(io))
            {
                return new AbstraktApiException(ErrorCodes.DiskFull, $"The disk is full (item '{item.Id}'): {io.Message} Free some space, then resume the batch.", null, null, ex);
            }

            if (io is not null || Find<UnauthorizedAccessException>(ex) is not null)
            {
                var cause = (Exception?)io ?? Find<UnauthorizedAccessException>(ex)!;
                return new AbstraktApiException(ErrorCodes.LocalIo, $"Item '{item.Id}': a local file could not be written: {cause.Message}", null, null, ex);
            }

            return new AbstraktApiException(ErrorCodes.Unexpected, $"Item '{item.Id}' failed on an unexpected error: {ex.GetType().Name}: {ex.Message}", null, null, ex);
        }

        /// <summary>True when <paramref name="ex"/> says the disk (or the user's quota) is full.</summary>
        /// <param name="ex">An I/O error.</param>
        /// <returns>True for ENOSPC/EDQUOT on Unix and ERROR_DISK_FULL/ERROR_HANDLE_DISK_FULL on Windows.</returns>
        public static bool IsDiskFull(IOException ex)
        {
            var code = ex.HResult;
            if (((uint)code >> 16) == 0x8007)
            {
                return (code & 0xFFFF) is WinDiskFull or WinHandleDiskFull;
            }

            return !RuntimeInformation.IsOSPlatform(OSPlatform.Windows) && code is Enospc or EdquotLinux or EdquotBsd;
        }

        private static T? Find<T>(Exception? ex)
            where T : Exception
        {
            for (; ex is not null; ex = ex.InnerException)
            {
                if (ex is T found)
                {
                    return found;
                }
            }

            return null;
        }
    }
}
