using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Management.Automation;
using Abstrakt.Api;

namespace Abstrakt.PowerShell
{
    /// <summary>Turns what a user names an image by (a path, a FileInfo's full name, an http(s) URL) into what an item sends.</summary>
    internal static class ImageReference
    {
        /// <summary>The image a reference names: a URL as it is, a local file checked and hashed (not read into memory).</summary>
        /// <param name="cmdlet">Resolves a PowerShell path (relative, ~, a drive) to a file system path.</param>
        /// <param name="reference">The path or URL.</param>
        /// <returns>The image.</returns>
        /// <exception cref="ImageInputException">The file is missing, too large, or not an image.</exception>
        public static ImageInput Resolve(PSCmdlet cmdlet, string reference) =>
            ImageInput.IsUrl(reference) ? ImageInput.FromUrl(reference) : ImageInput.Open(cmdlet.GetUnresolvedProviderPathFromPSPath(reference));

        /// <summary>The files -Path (wildcards) or -LiteralPath name, whichever was given.</summary>
        /// <param name="cmdlet">The cmdlet.</param>
        /// <param name="paths">-Path, or null.</param>
        /// <param name="literalPaths">-LiteralPath, or null.</param>
        /// <returns>The file system paths; none when neither was given.</returns>
        public static IEnumerable<string> Files(PSCmdlet cmdlet, string[]? paths, string[]? literalPaths) =>
            (paths ?? literalPaths ?? System.Array.Empty<string>()).SelectMany(p => Expand(cmdlet, p, literal: paths is null));

        /// <summary>The files a -Path (wildcards) or -LiteralPath names; a path that matches nothing is returned as it is, so it is reported as not found.</summary>
        private static IEnumerable<string> Expand(PSCmdlet cmdlet, string path, bool literal)
        {
            if (literal || !WildcardPattern.ContainsWildcardCharacters(path))
            {
                return new[] { cmdlet.GetUnresolvedProviderPathFromPSPath(path) };
            }

            try
            {
                var found = cmdlet.GetResolvedProviderPathFromPSPath(path, out _);
                return found.Count > 0 ? found : new[] { path };
            }
            catch (ItemNotFoundException)
            {
                return new[] { path };
            }
        }

        /// <summary>The item error for an image that cannot be sent: AbstraktItemFailed.ImageNotFound, .ImageTooLarge or .NotAnImage.</summary>
        /// <param name="ex">Why.</param>
        /// <param name="target">The input item (the FileInfo, row or path).</param>
        /// <returns>The error record.</returns>
        public static ErrorRecord Error(ImageInputException ex, object? target)
        {
            var (id, category) = ex.Problem switch
            {
                ImageProblem.NotFound => (ErrorIds.ImageNotFound, ErrorCategory.ObjectNotFound),
                ImageProblem.TooLarge => (ErrorIds.ImageTooLarge, ErrorCategory.LimitsExceeded),
                _ => (ErrorIds.NotAnImage, ErrorCategory.InvalidData),
            };
            return new ErrorRecord(ex, id, category, target)
            {
                ErrorDetails = new ErrorDetails(ex.Message)
                {
                    RecommendedAction = ex.Problem == ImageProblem.TooLarge
                        ? "Host the file where the service can fetch it and give its URL in an Image column (see docs/image-inputs.md)."
                        : "Check the path; images are PNG, JPEG or WebP files.",
                },
            };
        }

        /// <summary>True for a file or folder object from Get-ChildItem, whose properties are not item columns.</summary>
        /// <param name="value">The pipeline object.</param>
        /// <returns>True for a FileSystemInfo.</returns>
        public static bool IsFile(PSObject? value) => value?.BaseObject is FileSystemInfo;
    }
}
