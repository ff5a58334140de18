using System.Management.Automation;
using System.Security;

namespace Abstrakt.PowerShell
{
    /// <summary>
    /// Lets a SecureString parameter also take plain text, as web hosts (Pode, Azure Functions) hand
    /// secrets over from their configuration as strings, or a PSCredential (Get-Credential, SecretManagement), whose password is the secret.
    /// </summary>
    internal sealed class SecretTransformationAttribute : ArgumentTransformationAttribute
    {
        public override object? Transform(EngineIntrinsics engineIntrinsics, object? inputData)
        {
            var value = inputData is PSObject ps ? ps.BaseObject : inputData;
            return value switch
            {
                string text => SecureText.From(text),
                PSCredential credential => credential.Password,
                _ => value,
            };
        }
    }
}
