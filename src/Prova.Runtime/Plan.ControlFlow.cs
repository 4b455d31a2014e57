using Prova.Core;
using Prova.Onnx;
using Prova.Runtime.ControlFlow;

namespace Prova.Runtime;

internal sealed unsafe partial class Plan
{
    /// <summary>Domain of the marker nodes that delimit an If planned with both branches (never in a model file).</summary>
    private const string ControlDomain = "prova.controlflow";

    /// <summary>An If whose condition is only known at run time: its two expanded branches and the jump steps to patch.</summary>
    private sealed class IfBranches(OnnxNode node, int condition, string[] thenOutputs, string[] elseOutputs)
    {
        public OnnxNode Node { get; } = node;

        public int Condition { get; } = condition;

        public string[] ThenOutputs { get; } = thenOutputs;

        public string[] ElseOutputs { get; } = elseOutputs;

        public int BranchStep { get; set; } = -1;

        public int JumpStep { get; set; } = -1;
    }

    /// <summary>
    /// Plans an If node. A condition known at plan time (a constant, folded, or a specialised graph input)
    /// splices the taken branch into the node list right after the If. A condition computed from small
    /// bool/integer graph inputs asks the session to specialise the plan on them. Any other condition plans
    /// both branches: a conditional jump over the then-branch, its outputs copied into the If's outputs, a jump
    /// over the else-branch, the else-branch and its copies; both branches must give equal types and shapes.
    /// </summary>
    private static void PlanIf(OnnxNode node, OnnxGraph graph, List<OnnxNode> work, int index, HashSet<string> used,
        List<ValueState> values, Dictionary<string, int> slotOf, Dictionary<OnnxNode, IfBranches> branches, Func<ValueState, int> add)
    {
        string condName = node.Input(0) ?? throw ModelException.ForNode(node, "the condition input is missing");
        if (!slotOf.TryGetValue(condName, out int condSlot))
        {
            throw ModelException.ForNode(node, $"input '{condName}' is not a graph input, an initializer, or the output of an earlier node");
        }
        if (node.Inputs.Length != 1)
        {
            throw ModelException.ForNode(node, $"If takes one input (the condition) but has {node.Inputs.Length}");
        }
        var cond = values[condSlot];
        if (cond.Type != DataType.Bool || cond.ElementCount != 1)
        {
            throw ModelException.ForNode(node, $"the condition must be a bool tensor of one element but is {cond}");
        }
        if (cond.Constant is { } c)
        {
            var (nodes, initializers, _) = IfInliner.Expand(node, c.Bytes()[0] != 0, used);
            foreach (var (name, tensor) in initializers)
            {
                add(new ValueState(name, tensor.Type, tensor.ShapeArray(), tensor));
            }
            work.InsertRange(index + 1, nodes);
            return;
        }
        if (SpecializableInputs(graph, work, values, slotOf, condName) is { Count: > 0 } needed)
        {
            throw new NeedsInputValuesException(needed);
        }
        var (thenNodes, thenInit, thenOutputs) = IfInliner.Expand(node, true, used, bindOutputs: false);
        var (elseNodes, elseInit, elseOutputs) = IfInliner.Expand(node, false, used, bindOutputs: false);
        foreach (var (name, tensor) in thenInit.Concat(elseInit))
        {
            add(new ValueState(name, tensor.Type, tensor.ShapeArray(), tensor));
        }
        var info = new IfBranches(node, condSlot, thenOutputs, elseOutputs);
        OnnxNode Marker(string op)
        {
            var marker = new OnnxNode { Name = node.Name, OpType = op, Domain = ControlDomain, Outputs = node.Outputs };
            branches[marker] = info;
            return marker;
        }
        var spliced = new List<OnnxNode>(thenNodes.Count + elseNodes.Count + 3) { Marker("Branch") };
        spliced.AddRange(thenNodes);
        spliced.Add(Marker("ThenEnd"));
        spliced.AddRange(elseNodes);
        spliced.Add(Marker("ElseEnd"));
        work.InsertRange(index + 1, spliced);
    }

    /// <summary>Emits the jump and copy steps of an If planned with both branches, at its markers.</summary>
    private static void PlanControl(OnnxNode marker, Dictionary<OnnxNode, IfBranches> branches, List<ValueState> values, Dictionary<string, int> slotOf,
        List<(Kernel Kernel, int[] Inputs, int[] Outputs, long Scratch, int Target)> steps, Func<ValueState, int> add)
    {
        var info = branches[marker];
        var node = info.Node;
        switch (marker.OpType)
        {
            case "Branch":
                // Jump to the else-branch when the condition is false; the target is patched at ThenEnd.
                info.BranchStep = steps.Count;
                steps.Add((new CopyKernel(node), [info.Condition], [], 0, int.MaxValue));
                break;
            case "ThenEnd":
                for (int i = 0; i < node.Outputs.Length; i++)
                {
                    if (node.Outputs[i].Length == 0)
                    {
                        continue;
                    }
                    int source = Slot(node, slotOf, info.ThenOutputs[i]);
                    var v = values[source];
                    int output = add(new ValueState(node.Outputs[i], v.Type, v.Shape));
                    steps.Add((new CopyKernel(node), [source], [output], 0, -1));
                }
                info.JumpStep = steps.Count;
                steps.Add((new CopyKernel(node), [], [], 0, int.MaxValue));
                var branch = steps[info.BranchStep];
                steps[info.BranchStep] = (branch.Kernel, branch.Inputs, branch.Outputs, 0, steps.Count);
                break;
            case "ElseEnd":
                for (int i = 0; i < node.Outputs.Length; i++)
                {
                    if (node.Outputs[i].Length == 0)
                    {
                        continue;
                    }
                    int source = Slot(node, slotOf, info.ElseOutputs[i]);
                    int output = slotOf[node.Outputs[i]];
                    var (e, t) = (values[source], values[output]);
                    if (e.Type != t.Type || !e.Shape.AsSpan().SequenceEqual(t.Shape))
                    {
                        throw ModelException.ForNode(node, $"If with data-dependent output shapes: output '{node.Outputs[i]}' is {DataTypes.Name(t.Type)}[{string.Join(", ", t.Shape)}] in then_branch but {DataTypes.Name(e.Type)}[{string.Join(", ", e.Shape)}] in else_branch, and the condition is only known at run time");
                    }
                    steps.Add((new CopyKernel(node), [source], [output], 0, -1));
                }
                var jump = steps[info.JumpStep];
                steps[info.JumpStep] = (jump.Kernel, jump.Inputs, jump.Outputs, 0, steps.Count);
                break;
            default:
                throw new InvalidOperationException(marker.OpType);
        }
    }

    private static int Slot(OnnxNode node, Dictionary<string, int> slotOf, string name)
        => slotOf.TryGetValue(name, out int slot) ? slot : throw ModelException.ForNode(node, $"branch output '{name}' is not defined in the branch or an enclosing graph");

    /// <summary>Copies input 0 to output 0 (an If's branch output into the If's output); also the kernel of jump steps, which never run it.</summary>
    private sealed class CopyKernel(OnnxNode node) : Kernel(node)
    {
        public override void Infer(InferContext ctx) => throw new InvalidOperationException("a copy step is planned directly");

        public override void Execute(ExecContext ctx)
        {
            var v = ctx.Values[ctx.OutputSlots[0]];
            long bytes = v.ElementCount * DataTypes.SizeOf(v.Type);
            Buffer.MemoryCopy(ctx.In<byte>(0), ctx.Out<byte>(0), bytes, bytes);
        }
    }
}
