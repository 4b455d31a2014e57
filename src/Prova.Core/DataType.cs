namespace Prova.Core;

/// <summary>Element types, numbered as ONNX's TensorProto.DataType so the values round-trip.</summary>
public enum DataType
{
    Undefined = 0,
    Float32 = 1,
    UInt8 = 2,
    Int8 = 3,
    UInt16 = 4,
    Int16 = 5,
    Int32 = 6,
    Int64 = 7,
    String = 8,
    Bool = 9,
    Float16 = 10,
    Float64 = 11,
    UInt32 = 12,
    UInt64 = 13,
}

public static class DataTypes
{
    /// <summary>Bytes per element; 0 for types Prova cannot hold in a tensor.</summary>
    public static int SizeOf(DataType type) => type switch
    {
        DataType.Float32 or DataType.Int32 or DataType.UInt32 => 4,
        DataType.Int64 or DataType.UInt64 or DataType.Float64 => 8,
        DataType.UInt8 or DataType.Int8 or DataType.Bool => 1,
        DataType.UInt16 or DataType.Int16 or DataType.Float16 => 2,
        _ => 0,
    };

    /// <summary>True for the types a <see cref="Tensor"/> can hold.</summary>
    public static bool IsSupported(DataType type) => type is DataType.Float32 or DataType.Float64 or DataType.Int8
        or DataType.UInt8 or DataType.Int16 or DataType.UInt16 or DataType.Int32 or DataType.UInt32
        or DataType.Int64 or DataType.UInt64 or DataType.Bool;

    /// <summary>The name used in JSON files ("float32", "int64", ...).</summary>
    public static string Name(DataType type) => type switch
    {
        DataType.Float32 => "float32",
        DataType.Float64 => "float64",
        DataType.Float16 => "float16",
        DataType.Int8 => "int8",
        DataType.UInt8 => "uint8",
        DataType.Int16 => "int16",
        DataType.UInt16 => "uint16",
        DataType.Int32 => "int32",
        DataType.UInt32 => "uint32",
        DataType.Int64 => "int64",
        DataType.UInt64 => "uint64",
        DataType.Bool => "bool",
        DataType.String => "string",
        _ => "undefined",
    };

    public static bool TryParse(string name, out DataType type)
    {
        type = name switch
        {
            "float32" or "float" => DataType.Float32,
            "float64" or "double" => DataType.Float64,
            "int8" => DataType.Int8,
            "uint8" => DataType.UInt8,
            "int16" => DataType.Int16,
            "uint16" => DataType.UInt16,
            "int32" => DataType.Int32,
            "uint32" => DataType.UInt32,
            "int64" => DataType.Int64,
            "uint64" => DataType.UInt64,
            "bool" => DataType.Bool,
            _ => DataType.Undefined,
        };
        return type != DataType.Undefined;
    }

    /// <summary>The CLR element type that backs a tensor of this type.</summary>
    public static Type ClrType(DataType type) => type switch
    {
        DataType.Float32 => typeof(float),
        DataType.Float64 => typeof(double),
        DataType.Int8 => typeof(sbyte),
        DataType.UInt8 => typeof(byte),
        DataType.Int16 => typeof(short),
        DataType.UInt16 => typeof(ushort),
        DataType.Int32 => typeof(int),
        DataType.UInt32 => typeof(uint),
        DataType.Int64 => typeof(long),
        DataType.UInt64 => typeof(ulong),
        DataType.Bool => typeof(bool),
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, "no tensor storage for this element type"),
    };

    public static DataType Of<T>() where T : unmanaged
    {
        if (typeof(T) == typeof(float)) return DataType.Float32;
        if (typeof(T) == typeof(double)) return DataType.Float64;
        if (typeof(T) == typeof(sbyte)) return DataType.Int8;
        if (typeof(T) == typeof(byte)) return DataType.UInt8;
        if (typeof(T) == typeof(short)) return DataType.Int16;
        if (typeof(T) == typeof(ushort)) return DataType.UInt16;
        if (typeof(T) == typeof(int)) return DataType.Int32;
        if (typeof(T) == typeof(uint)) return DataType.UInt32;
        if (typeof(T) == typeof(long)) return DataType.Int64;
        if (typeof(T) == typeof(ulong)) return DataType.UInt64;
        if (typeof(T) == typeof(bool)) return DataType.Bool;
        throw new ArgumentException($"{typeof(T).Name} is not a tensor element type");
    }
}
