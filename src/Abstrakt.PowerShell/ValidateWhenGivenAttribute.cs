using System;
using System.Linq;
using System.Management.Automation;

namespace Abstrakt.PowerShell
{
    /// <summary>
    /// ValidateSet or ValidateRange that lets null through: with <see cref="EmptyAsNullAttribute"/>, an empty CSV cell
    /// bound by property name means "not given", while a wrong value is still refused when binding.
    /// </summary>
    internal sealed class ValidateWhenGivenAttribute : ValidateArgumentsAttribute
    {
        private readonly string[]? _set;
        private readonly long _min;
        private readonly long _max;

        /// <summary>Allows only these values (case-insensitive).</summary>
        /// <param name="set">The values.</param>
        public ValidateWhenGivenAttribute(params string[] set) => _set = set;

        /// <summary>Allows only integers in this range.</summary>
        /// <param name="min">The smallest.</param>
        /// <param name="max">The largest.</param>
        public ValidateWhenGivenAttribute(long min, long max)
        {
            _min = min;
            _max = max;
        }

        protected override void Validate(object? arguments, EngineIntrinsics engineIntrinsics)
        {
            var value = arguments is PSObject ps ? ps.BaseObject : arguments;
            if (value is null)
            {
                return;
            }

            if (_set is not null && !_set.Contains(value.ToString(), StringComparer.OrdinalIgnoreCase))
            {
                throw new ValidationMetadataException($"'{value}' is not one of {string.Join(", ", _set)}.");
            }

            if (_set is null && LanguagePrimitives.ConvertTo<long>(value) is var n && (n < _min || n > _max))
            {
                throw new ValidationMetadataException($"{value} is not between {_min} and {_max}.");
            }
        }
    }
}
