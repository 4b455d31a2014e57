using Microsoft.Data.Sqlite;

namespace Prova.Node.Store;

/// <summary>The SQLite index at &lt;data-dir&gt;/index.db (WAL mode, one pooled connection per operation).</summary>
public sealed class StoreDatabase
{
    private const string Schema = """
        PRAGMA journal_mode = WAL;
        CREATE TABLE IF NOT EXISTS blobs (
            cid TEXT PRIMARY KEY, size INTEGER NOT NULL, chunk_size INTEGER NOT NULL,
            chunk_count INTEGER NOT NULL, created TEXT NOT NULL);
        CREATE TABLE IF NOT EXISTS blob_chunks (
            cid TEXT NOT NULL, idx INTEGER NOT NULL, hash TEXT NOT NULL, PRIMARY KEY (cid, idx));
        CREATE INDEX IF NOT EXISTS blob_chunks_hash ON blob_chunks (hash);
        CREATE TABLE IF NOT EXISTS chunks (hash TEXT PRIMARY KEY, size INTEGER NOT NULL);
        CREATE TABLE IF NOT EXISTS names (name TEXT PRIMARY KEY, owner TEXT NOT NULL, created TEXT NOT NULL);
        CREATE TABLE IF NOT EXISTS models (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            name TEXT NOT NULL, version TEXT NOT NULL, cid TEXT NOT NULL,
            description TEXT NOT NULL, license TEXT NOT NULL, owner TEXT NOT NULL,
            timestamp INTEGER NOT NULL, signature TEXT NOT NULL,
            opset INTEGER NOT NULL, inputs TEXT NOT NULL, outputs TEXT NOT NULL,
            published_at TEXT NOT NULL,
            UNIQUE (name, version));
        CREATE INDEX IF NOT EXISTS models_cid ON models (cid);
        CREATE TABLE IF NOT EXISTS bundles (
            cid TEXT PRIMARY KEY, size INTEGER NOT NULL, file_count INTEGER NOT NULL, created TEXT NOT NULL);
        CREATE TABLE IF NOT EXISTS bundle_files (
            cid TEXT NOT NULL, path TEXT NOT NULL, file_cid TEXT NOT NULL, size INTEGER NOT NULL, PRIMARY KEY (cid, path));
        CREATE INDEX IF NOT EXISTS bundle_files_file ON bundle_files (file_cid);
        CREATE TABLE IF NOT EXISTS uploads (
            cid TEXT PRIMARY KEY, client TEXT NOT NULL, charged INTEGER NOT NULL, touched INTEGER NOT NULL);
        CREATE INDEX IF NOT EXISTS uploads_client ON uploads (client);
        """;

    private readonly string _connectionString;

    public StoreDatabase(string path)
    {
        _connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = path,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Pooling = true,
            DefaultTimeout = 30,
        }.ToString();
        using var connection = Open();
        Execute(connection, Schema);
    }

    public SqliteConnection Open()
    {
        var connection = new SqliteConnection(_connectionString);
        connection.Open();
        Execute(connection, "PRAGMA synchronous = FULL; PRAGMA busy_timeout = 30000;");
        return connection;
    }

    public static int Execute(SqliteConnection connection, string sql, params (string Name, object? Value)[] parameters)
    {
        using var command = Command(connection, sql, parameters);
        return command.ExecuteNonQuery();
    }

    public static SqliteCommand Command(SqliteConnection connection, string sql, params (string Name, object? Value)[] parameters)
    {
        var command = connection.CreateCommand();
        command.CommandText = sql;
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value ?? DBNull.Value);
        }
        return command;
    }

    public static object? Scalar(SqliteConnection connection, string sql, params (string Name, object? Value)[] parameters)
    {
        using var command = Command(connection, sql, parameters);
        return command.ExecuteScalar();
    }
}
