using Microsoft.Extensions.Options;
using Prova.Node.Hosting;

namespace Prova.Node.Settlement;

/// <summary>Whether the node runs in chain mode, and on which deployment (from <see cref="NodeOptions.Deployment"/>).</summary>
public sealed class SettlementMode
{
    public SettlementMode(IOptions<NodeOptions> options)
    {
        if (options.Value.Deployment is { Length: > 0 } path)
        {
            Deployment = Settlement.Deployment.Load(path);
        }
    }

    public Deployment? Deployment { get; }

    public bool Enabled => Deployment is not null;
}

/// <summary>Registers chain mode's services (all idle unless <see cref="NodeOptions.Deployment"/> is set).</summary>
public static class SettlementSetup
{
    public static void AddSettlement(IServiceCollection services)
    {
        // In chain mode, receipts are signed for the deployment's chain and Settlement contract.
        services.AddOptions<NodeOptions>().PostConfigure(o =>
        {
            if (o.Deployment is { Length: > 0 } path)
            {
                var deployment = Deployment.Load(path);
                o.ChainId = deployment.ChainId.ToString(System.Globalization.CultureInfo.InvariantCulture);
                o.VerifyingContract = deployment.Settlement.ToString();
            }
        });
        services.AddSingleton<SettlementMode>();
        services.AddSingleton(sp => new ReceiptLog(Path.Combine(
            Directory.CreateDirectory(sp.GetRequiredService<IOptions<NodeOptions>>().Value.DataDir).FullName, "settlement.db")));
        services.AddSingleton<SettlementService>();
        services.AddHostedService(sp => sp.GetRequiredService<SettlementService>());
    }

    /// <summary>Records a served receipt for batching when chain mode is on.</summary>
    public static void RecordServed(IServiceProvider services, Prova.Core.Receipts.Receipt receipt)
    {
        if (services.GetRequiredService<SettlementMode>().Enabled)
        {
            services.GetRequiredService<ReceiptLog>().Record(receipt);
        }
    }
}
