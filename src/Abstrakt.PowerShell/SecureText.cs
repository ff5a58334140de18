using System;
using System.Runtime.InteropServices;
using System.Security;

namespace Abstrakt.PowerShell
{
    /// <summary>Converts between SecureString and text at the one place a key must be plain: the client.</summary>
    internal static class SecureText
    {
        public static SecureString From(string text)
        {
            var secure = new SecureString();
            foreach (var c in text)
            {
                secure.AppendChar(c);
            }

            secure.MakeReadOnly();
            return secure;
        }

        public static string Reveal(SecureString secure)
        {
            var pointer = IntPtr.Zero;
            try
            {
                pointer = Marshal.SecureStringToGlobalAllocUnicode(secure);
                return Marshal.PtrToStringUni(pointer) ?? string.Empty;
            }
            finally
            {
                Marshal.ZeroFreeGlobalAllocUnicode(pointer);
            }
        }
    }
}
