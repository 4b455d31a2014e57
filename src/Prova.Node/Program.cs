using Prova.Core;
using Prova.Node.Hosting;

// dotnet Prova.Node.dll --data-dir D --listen 127.0.0.1:0
// Prints "listening on <url>" once requests are accepted. Exit code 2 on bad settings or key problems.
try
{
    var app = NodeApp.Build(NodeApp.CreateBuilder(args));
    app.Lifetime.ApplicationStarted.Register(() =>
    {
        if (NodeApp.ListeningUrl(app) is { } url)
        {
            Console.Out.WriteLine($"listening on {url}");
            Console.Out.Flush();
        }
    });
    await app.RunAsync();
    return 0;
}
catch (ProvaException ex)
{
    Console.Error.WriteLine(ex.Message);
    return 2;
}

/// <summary>The entry point (public so WebApplicationFactory can host the node in tests).</summary>
public partial class Program;
