using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;
using Npgsql;

namespace Abstrakt.Store
{
    /// <summary>
    /// Runs SQL on pooled connections to one server, each statement on a connection of its own. (Not
    /// NpgsqlDataSource: its base type lives in different assemblies in Npgsql's netstandard2.0 and net8.0
    /// builds, and this netstandard2.0 library must run on both.)
    /// </summary>
    internal sealed class PostgresDb
    {
        private readonly string _connectionString;

        public PostgresDb(string connectionString) => _connectionString = connectionString;

        public int Execute(string sql, params (string Name, object? Value)[] values)
        {
            using var connection = Open();
            using var command = Command(connection, sql, values);
            return command.ExecuteNonQuery();
        }

        public async Task<int> ExecuteAsync(string sql, CancellationToken cancellationToken, params (string Name, object? Value)[] values)
        {
            using var connection = new NpgsqlConnection(_connectionString);
            await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
            using var command = Command(connection, sql, values);
            return await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        public async Task<List<T>> QueryAsync<T>(string sql, Func<NpgsqlDataReader, T> read, CancellationToken cancellationToken, params (string Name, object? Value)[] values)
        {
            using var connection = new NpgsqlConnection(_connectionString);
            await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
            using var command = Command(connection, sql, values);
            using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            var rows = new List<T>();
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                rows.Add(read(reader));
            }

            return rows;
        }

        /// <summary>Rows as the server sends them (a result set larger than memory streams through).</summary>
        public IEnumerable<T> Query<T>(string sql, Func<NpgsqlDataReader, T> read, params (string Name, object? Value)[] values)
        {
            using var connection = Open();
            using var command = Command(connection, sql, values);
            using var reader = command.ExecuteReader();
            while (reader.Read())
            {
                yield return read(reader);
            }
        }

        /// <summary>Two reads that must agree with each other (a batch's counts and its runners'), from one snapshot.</summary>
        public (List<T1> First, List<T2> Second) QueryBoth<T1, T2>(string sql1, Func<NpgsqlDataReader, T1> read1, string sql2, Func<NpgsqlDataReader, T2> read2, params (string Name, object? Value)[] values)
        {
            using var connection = Open();
            using var tx = connection.BeginTransaction(System.Data.IsolationLevel.RepeatableRead);
            var first = ReadAll(connection, sql1, read1, values);
            var second = ReadAll(connection, sql2, read2, values);
            tx.Commit();
            return (first, second);
        }

        private static List<T> ReadAll<T>(NpgsqlConnection connection, string sql, Func<NpgsqlDataReader, T> read, (string Name, object? Value)[] values)
        {
            using var command = Command(connection, sql, values);
            using var reader = command.ExecuteReader();
            var rows = new List<T>();
            while (reader.Read())
            {
                rows.Add(read(reader));
            }

            return rows;
        }

        /// <summary>Runs <paramref name="work"/> in one transaction on one connection.</summary>
        public void InTransaction(Action<Func<string, object?>> work)
        {
            using var connection = Open();
            using var tx = connection.BeginTransaction();
            work(sql =>
            {
                using var command = Command(connection, sql, Array.Empty<(string, object?)>());
                return command.ExecuteScalar();
            });
            tx.Commit();
        }

        private NpgsqlConnection Open()
        {
            var connection = new NpgsqlConnection(_connectionString);
            connection.Open();
            return connection;
        }

        private static NpgsqlCommand Command(NpgsqlConnection connection, string sql, (string Name, object? Value)[] values)
        {
            var command = new NpgsqlCommand(sql, connection);
            foreach (var (name, value) in values)
            {
                command.Parameters.AddWithValue(name, value ?? DBNull.Value);
            }

            return command;
        }
    }
}
