namespace Prova.Onnx;

public static partial class OnnxLoader
{
    /// <summary>
    /// Checks the graph rules of the ONNX IR specification ("Graphs", "Names within a graph"):
    /// nodes are in topological order, every input is defined before use, every value is
    /// assigned once, every graph output is defined. A cycle always shows up as a use before
    /// definition. Subgraphs may also use values of enclosing graphs defined before their node.
    /// </summary>
    public static void Validate(OnnxGraph graph) => Validate(graph, null);

    private static void Validate(OnnxGraph graph, List<Dictionary<string, string>>? outer)
    {
        // Value name → what defines it, for messages about duplicates.
        var defined = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var name in graph.Initializers.Keys)
        {
            defined[name] = "an initializer";
        }
        foreach (var input in graph.Inputs)
        {
            if (input.Name.Length == 0)
            {
                throw new ModelException("a graph input has no name");
            }
            if (!defined.TryAdd(input.Name, "a graph input"))
            {
                throw new ModelException($"graph input '{input.Name}' is declared twice");
            }
        }
        List<Dictionary<string, string>>? scopes = null;
        foreach (var node in graph.Nodes)
        {
            foreach (var input in node.Inputs)
            {
                if (input.Length > 0 && !defined.ContainsKey(input) && !InScope(outer, input))
                {
                    throw ModelException.ForNode(node, $"input '{input}' is not a graph input, an initializer or the output of an earlier node (nodes must be in topological order)");
                }
            }
            foreach (var attribute in node.Attributes.Values)
            {
                if (attribute.Graph is null && attribute.Graphs.Length == 0)
                {
                    continue;
                }
                scopes ??= outer is null ? [defined] : [.. outer, defined];
                if (attribute.Graph is not null)
                {
                    ValidateSubgraph(node, attribute.Name, attribute.Graph, scopes);
                }
                foreach (var sub in attribute.Graphs)
                {
                    ValidateSubgraph(node, attribute.Name, sub, scopes);
                }
            }
            foreach (var output in node.Outputs)
            {
                if (output.Length == 0)
                {
                    continue;
                }
                if (!defined.TryAdd(output, $"node '{node.DisplayName}' ({node.OpType})"))
                {
                    throw ModelException.ForNode(node, $"output '{output}' is already defined by {defined[output]} (every value must be assigned once)");
                }
            }
        }
        var outputs = new HashSet<string>(StringComparer.Ordinal);
        foreach (var output in graph.Outputs)
        {
            if (!defined.ContainsKey(output.Name) && !InScope(outer, output.Name))
            {
                throw new ModelException($"graph output '{output.Name}' is not produced by any node, input or initializer");
            }
            if (!outputs.Add(output.Name))
            {
                throw new ModelException($"graph output '{output.Name}' is listed twice");
            }
        }
    }

    private static void ValidateSubgraph(OnnxNode node, string attribute, OnnxGraph graph, List<Dictionary<string, string>> scopes)
    {
        try
        {
            Validate(graph, scopes);
        }
        catch (ModelException e)
        {
            throw ModelException.ForNode(node, $"in subgraph '{attribute}': {e.Message}");
        }
    }

    private static bool InScope(List<Dictionary<string, string>>? scopes, string name)
    {
        if (scopes is null)
        {
            return false;
        }
        foreach (var scope in scopes)
        {
            if (scope.ContainsKey(name))
            {
                return true;
            }
        }
        return false;
    }
}
