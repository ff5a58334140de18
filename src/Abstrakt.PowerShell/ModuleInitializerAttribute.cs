namespace System.Runtime.CompilerServices
{
    // netstandard2.0 lacks the attribute; the compiler only needs it to exist. The CLR has always run module initializers.
    [AttributeUsage(AttributeTargets.Method, Inherited = false)]
    internal sealed class ModuleInitializerAttribute : Attribute
    {
    }
}
