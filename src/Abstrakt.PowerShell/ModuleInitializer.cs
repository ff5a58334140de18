using System;
using System.Collections.Generic;
using System.IO;
using System.Management.Automation;
using System.Reflection;

namespace Abstrakt.PowerShell
{
    /// <summary>
    /// Resolves the module's dependencies (Abstrakt.Core, Polly, System.Text.Json and their polyfills)
    /// from the <c>dependencies</c> folder so they cannot clash with other modules in the session:
    /// on PowerShell 7 into one private AssemblyLoadContext, on Windows PowerShell with LoadFrom.
    /// The load context is created by reflection because netstandard2.0 has no AssemblyLoadContext type
    /// (the same approach as PSResourceGet's module initializer).
    /// </summary>
    public sealed class ModuleInitializer : IModuleAssemblyInitializer, IModuleAssemblyCleanup
    {
        private static readonly string DependencyFolder =
            Path.Combine(Path.GetDirectoryName(typeof(ModuleInitializer).Assembly.Location) ?? ".", "dependencies");

        private static readonly HashSet<string> Dependencies = ListDependencies();
        private static readonly object? PrivateContext = CreatePrivateContext();
        private static readonly MethodInfo? LoadFromPath = PrivateContext?.GetType().GetMethod("LoadFromAssemblyPath", new[] { typeof(string) });

        private static int _registered;

        /// <summary>Registers the resolver when the module is imported (again, after a Remove-Module).</summary>
        public void OnImport() => Register();

        /// <summary>Removes the resolver when the module is removed.</summary>
        /// <param name="psModuleInfo">The module being removed.</param>
        public void OnRemove(PSModuleInfo psModuleInfo)
        {
            if (System.Threading.Interlocked.Exchange(ref _registered, 0) == 1)
            {
                AppDomain.CurrentDomain.AssemblyResolve -= Resolve;
            }
        }

        /// <summary>
        /// Runs as the assembly loads: Import-Module reflects over cmdlet parameter types (which live in
        /// Abstrakt.Core) before it calls OnImport, so the resolver must be in place earlier than that.
        /// </summary>
#pragma warning disable CA2255 // Deliberate: a PowerShell module loaded into a host needs its resolver before type loading.
        [System.Runtime.CompilerServices.ModuleInitializer]
#pragma warning restore CA2255
        internal static void Register()
        {
            if (System.Threading.Interlocked.Exchange(ref _registered, 1) == 0)
            {
                AppDomain.CurrentDomain.AssemblyResolve += Resolve;
            }
        }

        private static Assembly? Resolve(object? sender, ResolveEventArgs args)
        {
            var name = new AssemblyName(args.Name).Name;
            if (name is null || !Dependencies.Contains(name))
            {
                return null;
            }

            var path = Path.Combine(DependencyFolder, name + ".dll");
            return PrivateContext is null || LoadFromPath is null
                ? Assembly.LoadFrom(path)
                : (Assembly?)LoadFromPath.Invoke(PrivateContext, new object[] { path });
        }

        private static HashSet<string> ListDependencies()
        {
            var names = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
            if (Directory.Exists(DependencyFolder))
            {
                foreach (var file in Directory.GetFiles(DependencyFolder, "*.dll"))
                {
                    names.Add(Path.GetFileNameWithoutExtension(file));
                }
            }

            return names;
        }

        private static object? CreatePrivateContext()
        {
            // Only .NET Core has load contexts; Windows PowerShell (.NET Framework) falls back to LoadFrom.
            var contextType = Type.GetType("System.Runtime.Loader.AssemblyLoadContext, System.Runtime.Loader", throwOnError: false)
                ?? Type.GetType("System.Runtime.Loader.AssemblyLoadContext", throwOnError: false);
            return contextType is null || Environment.Version.Major < 5
                ? null
                : Activator.CreateInstance(contextType, "Abstrakt", false);
        }
    }
}
