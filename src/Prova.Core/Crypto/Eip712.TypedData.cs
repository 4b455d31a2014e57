using System.Numerics;
using System.Text.Json;

namespace Prova.Core.Crypto;

public static partial class Eip712
{
    /// <summary>
    /// A typed-data document: struct types, the primary type, the domain and the message, as in
    /// eth_signTypedData_v4. When <see cref="Types"/> has no EIP712Domain entry, the domain type is
    /// derived from the domain's members (name, version, chainId, verifyingContract, salt).
    /// </summary>
    public sealed class TypedData
    {
        private static readonly Field[] s_domainMembers =
        [
            new("name", "string"),
            new("version", "string"),
            new("chainId", "uint256"),
            new("verifyingContract", "address"),
            new("salt", "bytes32"),
        ];

        public required IReadOnlyDictionary<string, IReadOnlyList<Field>> Types { get; init; }

        public required string PrimaryType { get; init; }

        public required IReadOnlyDictionary<string, object?> Domain { get; init; }

        public required IReadOnlyDictionary<string, object?> Message { get; init; }

        /// <summary>Typed data for <paramref name="domain"/>; <paramref name="types"/> need not list EIP712Domain.</summary>
        public static TypedData Create(
            Eip712Domain domain,
            IReadOnlyDictionary<string, IReadOnlyList<Field>> types,
            string primaryType,
            IReadOnlyDictionary<string, object?> message)
        {
            var allTypes = new Dictionary<string, IReadOnlyList<Field>>(types, StringComparer.Ordinal)
            {
                [DomainTypeName] = domain.Fields,
            };
            return new TypedData { Types = allTypes, PrimaryType = primaryType, Domain = domain.Values, Message = message };
        }

        public Hash256 DomainSeparator()
        {
            var types = Types;
            if (!types.ContainsKey(DomainTypeName))
            {
                var fields = new List<Field>();
                foreach (var member in s_domainMembers)
                {
                    if (Domain.ContainsKey(member.Name))
                    {
                        fields.Add(member);
                    }
                }
                foreach (var key in Domain.Keys)
                {
                    if (Array.FindIndex(s_domainMembers, m => m.Name == key) < 0)
                    {
                        throw new CryptoFormatException($"typed data: domain member '{key}' is not a standard EIP712Domain member; declare EIP712Domain in types");
                    }
                }
                types = new Dictionary<string, IReadOnlyList<Field>>(types, StringComparer.Ordinal) { [DomainTypeName] = fields };
            }
            return HashStruct(types, DomainTypeName, Domain);
        }

        /// <summary>hashStruct(message).</summary>
        public Hash256 MessageHash() => HashStruct(Types, PrimaryType, Message);

        /// <summary>The 32 bytes that get signed.</summary>
        public Hash256 SigningHash() => Eip712.SigningHash(DomainSeparator(), MessageHash());

        /// <summary>
        /// Parses the JSON form used by eth_signTypedData_v4:
        /// {"types": {"T": [{"name": …, "type": …}, …], …}, "primaryType": "T", "domain": {…}, "message": {…}}.
        /// </summary>
        /// <exception cref="CryptoFormatException">the text is not JSON or not typed data.</exception>
        public static TypedData FromJson(string json)
        {
            JsonDocument document;
            try
            {
                document = JsonDocument.Parse(json);
            }
            catch (JsonException e)
            {
                throw new CryptoFormatException($"typed data is not valid JSON: {e.Message}", e);
            }
            using (document)
            {
                var root = document.RootElement;
                if (root.ValueKind != JsonValueKind.Object)
                {
                    throw new CryptoFormatException("typed data must be a JSON object with types, primaryType, domain and message");
                }
                var typesElement = Property(root, "types", JsonValueKind.Object);
                var types = new Dictionary<string, IReadOnlyList<Field>>(StringComparer.Ordinal);
                foreach (var type in typesElement.EnumerateObject())
                {
                    if (type.Value.ValueKind != JsonValueKind.Array)
                    {
                        throw new CryptoFormatException($"typed data: types.{type.Name} must be an array of {{\"name\", \"type\"}} objects");
                    }
                    var fields = new List<Field>();
                    foreach (var field in type.Value.EnumerateArray())
                    {
                        if (field.ValueKind != JsonValueKind.Object)
                        {
                            throw new CryptoFormatException($"typed data: types.{type.Name} must be an array of {{\"name\", \"type\"}} objects");
                        }
                        fields.Add(new Field(
                            Property(field, "name", JsonValueKind.String).GetString()!,
                            Property(field, "type", JsonValueKind.String).GetString()!));
                    }
                    types[type.Name] = fields;
                }
                return new TypedData
                {
                    Types = types,
                    PrimaryType = Property(root, "primaryType", JsonValueKind.String).GetString()!,
                    Domain = (IReadOnlyDictionary<string, object?>)ToObject(Property(root, "domain", JsonValueKind.Object))!,
                    Message = (IReadOnlyDictionary<string, object?>)ToObject(Property(root, "message", JsonValueKind.Object))!,
                };
            }
        }

        private static JsonElement Property(JsonElement element, string name, JsonValueKind kind)
        {
            if (!element.TryGetProperty(name, out var value))
            {
                throw new CryptoFormatException($"typed data: missing \"{name}\"");
            }
            if (value.ValueKind != kind)
            {
                throw new CryptoFormatException($"typed data: \"{name}\" must be a JSON {kind.ToString().ToLowerInvariant()}");
            }
            return value;
        }

        private static object? ToObject(JsonElement element)
        {
            switch (element.ValueKind)
            {
                case JsonValueKind.Object:
                    var members = new Dictionary<string, object?>(StringComparer.Ordinal);
                    foreach (var property in element.EnumerateObject())
                    {
                        members[property.Name] = ToObject(property.Value);
                    }
                    return members;
                case JsonValueKind.Array:
                    var items = new List<object?>();
                    foreach (var item in element.EnumerateArray())
                    {
                        items.Add(ToObject(item));
                    }
                    return items;
                case JsonValueKind.String:
                    return element.GetString();
                case JsonValueKind.Number:
                    string raw = element.GetRawText();
                    // Integers only; the 80-character bound keeps BigInteger parsing cheap on hostile input.
                    if (raw.Length <= 80 && BigInteger.TryParse(raw, System.Globalization.NumberStyles.AllowLeadingSign, System.Globalization.CultureInfo.InvariantCulture, out var n))
                    {
                        return n;
                    }
                    throw new CryptoFormatException($"typed data: number {Hash256.Shorten(raw)} is not an integer");
                case JsonValueKind.True:
                    return true;
                case JsonValueKind.False:
                    return false;
                default:
                    return null;
            }
        }
    }
}
