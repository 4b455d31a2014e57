using System.CommandLine;
using System.CommandLine.Help;
using Prova.Core;
using Spectre.Console;

namespace Prova.Cli;

/// <summary>
/// The <c>prova</c> command line. <see cref="Run"/> is the whole program with its standard streams
/// passed in, so tests can run it in-process. Bad usage and bad input end with exit code 2 and one
/// line on stderr ("error: ..."), never a stack trace.
/// </summary>
public static class ProvaCli
{
    public static int Run(string[] args, TextWriter stdout, TextWriter stderr) => Run(args, stdout, stderr, Console.In);

    /// <summary>The program reading <paramref name="stdin"/> (<c>prova chat</c>'s turns) instead of the process's standard input.</summary>
    public static int Run(string[] args, TextWriter stdout, TextWriter stderr, TextReader stdin) => Run(args, stdout, stderr, stdin, new CliInterrupts());

    /// <summary>The program with its Ctrl+C offered to <paramref name="interrupts"/> first (tests press it through that).</summary>
    internal static int Run(string[] args, TextWriter stdout, TextWriter stderr, TextReader stdin, CliInterrupts interrupts)
    {
        var context = new CliContext(stdout, stderr, CreateConsole(stdout)) { In = stdin, Interrupts = interrupts };
        var root = BuildRoot(context);
        var parse = root.Parse(args);
        bool helpOrVersion = parse.Action is HelpAction || parse.Action?.GetType().Name == "VersionOptionAction";
        if (parse.Errors.Count > 0 && !helpOrVersion)
        {
            return Fail(stderr, $"{parse.Errors[0].Message.TrimEnd('.')} (see 'prova --help')");
        }
        try
        {
            return parse.Invoke(new InvocationConfiguration
            {
                Output = stdout,
                Error = stderr,
                EnableDefaultExceptionHandler = false,
            });
        }
        catch (ProvaException ex)
        {
            return Fail(stderr, ex.Message);
        }
        catch (OutOfMemoryException)
        {
            return Fail(stderr, "out of memory (the model or its inputs are too large for this machine)");
        }
        catch (Exception ex)
        {
            stderr.WriteLine($"internal error: {ex.GetType().Name}: {OneLine(ex.Message)}");
            stderr.WriteLine("This is a bug in Prova; please report it with the command you ran.");
            return ExitCodes.InternalError;
        }
    }

    internal static RootCommand BuildRoot(CliContext context)
    {
        var root = new RootCommand("Prova: run ONNX models deterministically (bit-identical results on any machine and thread count).")
        {
            RunCommand.Create(context), GenerateCommand.Create(context), ChatCommand.Create(context),
            DemoCommand.Create(context),
            KeyCommand.Create(context), NodeCommand.Create(context), ModelCommand.Create(context),
            InferCommand.Create(context), VerifyCommand.Create(context), ChallengeCommand.Create(context), DevnetCommand.Create(context),
        };
        root.SetAction(parse =>
        {
            // Bare "prova": show what it can do.
            new HelpAction().Invoke(parse);
            return ExitCodes.Success;
        });
        return root;
    }

    private static int Fail(TextWriter stderr, string message)
    {
        stderr.WriteLine("error: " + OneLine(message));
        return ExitCodes.BadInput;
    }

    /// <summary>An error message as the CLI prints it: one line, at most <see cref="ErrorText.MaxMessageChars"/> chars (the middle elided).</summary>
    internal static string OneLine(string message) => ErrorText.Bound(message.ReplaceLineEndings(" ").Trim());

    private static IAnsiConsole CreateConsole(TextWriter stdout)
    {
        bool terminal = ReferenceEquals(stdout, Console.Out) && !Console.IsOutputRedirected;
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(stdout),
            Ansi = terminal ? AnsiSupport.Detect : AnsiSupport.No,
            ColorSystem = terminal ? ColorSystemSupport.Detect : ColorSystemSupport.NoColors,
            Interactive = terminal ? InteractionSupport.Detect : InteractionSupport.No,
        });
        if (!terminal)
        {
            console.Profile.Width = 120;
        }
        return console;
    }
}

/// <summary>The streams and console a command writes to, and the input it reads (<c>prova chat</c>).</summary>
internal sealed record CliContext(TextWriter Out, TextWriter Error, IAnsiConsole Console)
{
    public TextReader In { get; init; } = System.Console.In;

    /// <summary>Where Ctrl+C goes before it cancels the whole command (<see cref="NetworkOptions.Run"/>).</summary>
    public CliInterrupts Interrupts { get; init; } = new();
}

/// <summary>
/// Ctrl+C inside a command: a handler that is set (a conversation's answer being streamed) takes it, e.g. to stop just
/// that answer; with none set, <see cref="NetworkOptions.Run"/> cancels the whole command.
/// </summary>
internal sealed class CliInterrupts
{
    private Func<bool>? _handler;

    /// <summary>Makes <paramref name="handler"/> the taker of Ctrl+C until the result is disposed.</summary>
    public IDisposable Take(Func<bool> handler)
    {
        Volatile.Write(ref _handler, handler);
        return new Release(this, handler);
    }

    /// <summary>Ctrl+C was pressed: true when a handler took it.</summary>
    public bool Press() => Volatile.Read(ref _handler)?.Invoke() == true;

    private sealed class Release(CliInterrupts owner, Func<bool> handler) : IDisposable
    {
        public void Dispose() => Interlocked.CompareExchange(ref owner._handler, null, handler);
    }
}
