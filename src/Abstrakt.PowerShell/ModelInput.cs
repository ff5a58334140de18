using System.Collections;
using System.Collections.Generic;
using System.Management.Automation;

namespace Abstrakt.PowerShell
{
    /// <summary>Turns a user's -Input hashtable into model input, unwrapping PSObjects.</summary>
    internal static class ModelInput
    {
        public static Dictionary<string, object?> From(IDictionary? table)
        {
            var input = new Dictionary<string, object?>();
            if (table is not null)
            {
                foreach (DictionaryEntry entry in table)
                {
                    input[entry.Key.ToString()!] = entry.Value is PSObject p ? p.BaseObject : entry.Value;
                }
            }

            return input;
        }
    }
}
