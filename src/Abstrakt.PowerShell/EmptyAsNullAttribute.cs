using System.Management.Automation;

namespace Abstrakt.PowerShell
{
    /// <summary>Turns an empty string into null, so an empty CSV cell bound by property name means "not given" (the default), not an invalid value.</summary>
    internal sealed class EmptyAsNullAttribute : ArgumentTransformationAttribute
    {
        public override object? Transform(EngineIntrinsics engineIntrinsics, object? inputData)
        {
            var value = inputData is PSObject ps ? ps.BaseObject : inputData;
            return value is string { Length: 0 } ? null : inputData;
        }
    }
}
