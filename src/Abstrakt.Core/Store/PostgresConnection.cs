using System;
using Abstrakt.Api;
using Abstrakt.Engine;
using Npgsql;

namespace Abstrakt.Store
{
    /// <summary>
    /// Turns what -Store was given (an Npgsql connection string, or a postgres:// URL) into a server to talk to,
    /// and says where it points without its password. The password is scrubbed like the API key.
    /// </summary>
    internal static class PostgresConnection
    {
        /// <summary>Parses <paramref name="store"/>; throws StoreInvalid without echoing it.</summary>
        public static NpgsqlConnectionStringBuilder Parse(string store)
        {
            NpgsqlConnectionStringBuilder builder;
            try
            {
                builder = store.StartsWith("postgres://", StringComparison.OrdinalIgnoreCase) || store.StartsWith("postgresql://", StringComparison.OrdinalIgnoreCase)
                    ? FromUrl(new Uri(store))
                    : new NpgsqlConnectionStringBuilder(store);
            }
            catch (Exception ex) when (ex is ArgumentException or FormatException or System.Collections.Generic.KeyNotFoundException or UriFormatException)
            {
                throw new JournalException("The store is neither an Npgsql connection string nor a postgres:// URL.", "StoreInvalid");
            }

            if (!string.IsNullOrEmpty(builder.Password))
            {
                Redaction.Remember(builder.Password!);
            }

            // A name other sessions see in pg_stat_activity; never the password.
            builder.ApplicationName ??= "Abstrakt.PowerShell";
            return builder;
        }

        /// <summary>The server <paramref name="store"/> names.</summary>
        public static PostgresDb Open(string store) => new PostgresDb(Parse(store).ConnectionString);

        /// <summary>Where the store is, for messages: host, port and database only.</summary>
        public static string Describe(string store)
        {
            var b = Parse(store);
            return $"PostgreSQL {b.Host}:{b.Port}/{b.Database ?? b.Username}";
        }

        /// <summary>The store's failure as one the cmdlets report: a scrubbed message naming where.</summary>
        public static JournalException Unavailable(string store, Exception ex) =>
            new JournalException($"The batch store ({Describe(store)}) cannot be used: {Redaction.Scrub(ex.Message)}", "StoreUnavailable");

        private static NpgsqlConnectionStringBuilder FromUrl(Uri url)
        {
            var builder = new NpgsqlConnectionStringBuilder { Host = url.Host };
            if (url.Port > 0)
            {
                builder.Port = url.Port;
            }

            var user = url.UserInfo.Split(new[] { ':' }, 2);
            if (user[0].Length > 0)
            {
                builder.Username = Uri.UnescapeDataString(user[0]);
            }

            if (user.Length > 1)
            {
                builder.Password = Uri.UnescapeDataString(user[1]);
            }

            var database = url.AbsolutePath.TrimStart('/');
            if (database.Length > 0)
            {
                builder.Database = Uri.UnescapeDataString(database);
            }

            foreach (var pair in url.Query.TrimStart('?').Split(new[] { '&' }, StringSplitOptions.RemoveEmptyEntries))
            {
                var kv = pair.Split(new[] { '=' }, 2);
                builder[Uri.UnescapeDataString(kv[0]).Replace('_', ' ')] = kv.Length > 1 ? Uri.UnescapeDataString(kv[1]) : string.Empty;
            }

            return builder;
        }
    }
}
