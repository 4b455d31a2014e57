using Prova.Core;

namespace Prova.Runtime.Quantization;

/// <summary>A model or calibration set that cannot be quantized (nothing to quantize, a range that is not finite, ...).</summary>
public sealed class QuantizationException : ProvaException
{
    public QuantizationException(string message) : base(message) { }
}
