namespace Prova.Core.Receipts;

/// <summary>A receipt's JSON is malformed (a missing or ill-typed field).</summary>
public sealed class ReceiptFormatException : ProvaException
{
    public ReceiptFormatException(string message) : base(message) { }

    public ReceiptFormatException(string message, Exception inner) : base(message, inner) { }
}
