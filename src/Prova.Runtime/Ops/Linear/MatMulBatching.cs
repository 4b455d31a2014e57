namespace Prova.Runtime.Ops.Linear;

/// <summary>
/// How an N-D matrix product (MatMul, FusedMatMul, QLinearMatMul, MatMulInteger) walks its batches
/// under numpy broadcasting: the element offsets of A and B for each output batch.
/// </summary>
internal readonly record struct MatMulBatching(int M, int Batches, long[] AOffsets, long[] BOffsets, int[] BIndex)
{
    /// <summary>
    /// <paramref name="a"/> and <paramref name="b"/> are the operand shapes whose leading
    /// <paramref name="aBatchRank"/> / <paramref name="bBatchRank"/> dims are batch dims, <paramref name="batch"/>
    /// the broadcast batch shape; each product is [m, k] × [k, n].
    /// </summary>
    public static MatMulBatching Create(int[] a, int[] b, int[] batch, int aBatchRank, int bBatchRank, long aBatches, long bBatches, int m, int k, int n)
    {
        long batches = Prova.Core.Tensor.ElementCount(batch);
        if (bBatches == 1 && aBatches == batches)
        {
            // B is shared by every batch and A is not broadcast: one product with the batches stacked as rows.
            return new MatMulBatching(checked((int)(batches * m)), 1, [0], [0], [0]);
        }
        int count = checked((int)batches);
        int batchRank = batch.Length;
        var aOffsets = new long[count];
        var bOffsets = new long[count];
        var bIndex = new int[count];
        var index = new int[batchRank];
        for (int t = 0; t < count; t++)
        {
            long ao = 0;
            long bo = 0;
            for (int d = 0; d < batchRank; d++)
            {
                int ia = d - (batchRank - aBatchRank);
                if (ia >= 0)
                {
                    ao = ao * a[ia] + (a[ia] == 1 ? 0 : index[d]);
                }
                int ib = d - (batchRank - bBatchRank);
                if (ib >= 0)
                {
                    bo = bo * b[ib] + (b[ib] == 1 ? 0 : index[d]);
                }
            }
            aOffsets[t] = ao * m * k;
            bIndex[t] = (int)bo;
            bOffsets[t] = bo * k * n;
            for (int d = batchRank - 1; d >= 0; d--)
            {
                if (++index[d] < batch[d])
                {
                    break;
                }
                index[d] = 0;
            }
        }
        return new MatMulBatching(m, count, aOffsets, bOffsets, bIndex);
    }
}
