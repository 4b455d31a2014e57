using System.CommandLine;

namespace Prova.Cli;

/// <summary><c>prova model ...</c>: commands that transform model files.</summary>
internal static class ModelCommand
{
    public static Command Create(CliContext context) => new("model", "Transform ONNX models (quantize).")
    {
        QuantizeCommand.Create(context),
    };
}
