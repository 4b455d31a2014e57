using System.Globalization;
using System.Text;

namespace Prova.Lm.Text;

/// <summary>
/// What a BERT-style <c>tokenizer.json</c> does before its WordPiece model, done here rather than by
/// Microsoft.ML.Tokenizers' BertTokenizer because that one differs from Hugging Face's: it treats tabs and newlines as
/// control characters (joining the words around them), drops symbols such as emoji instead of making them [UNK], and
/// leaves zero-width characters as separators. Hugging Face's order:
/// <list type="number">
/// <item><c>BertNormalizer</c>: <c>clean_text</c> drops U+0000, U+FFFD and control/format/unassigned/private-use
/// characters other than tab, newline and carriage return, and turns whitespace into ' '; <c>handle_chinese_chars</c>
/// puts spaces around CJK ideographs; <c>strip_accents</c> (default: as <c>lowercase</c>) decomposes and drops
/// non-spacing marks; <c>lowercase</c>.</item>
/// <item><c>BertPreTokenizer</c>: split on whitespace, and every punctuation character (ASCII 33–47, 58–64, 91–96,
/// 123–126, or a Unicode P* category) is a word of its own.</item>
/// </list>
/// Prova runs with invariant globalization (no ICU: the same text handling on every machine), so accents are stripped
/// with a decomposition table of Latin, Greek and Cyrillic letters (U+00C0–U+04FF, U+1E00–U+1FFF) generated from
/// Unicode 14 data; other precomposed characters (Hangul syllables, for one) stay composed, where Hugging Face would
/// decompose them.
/// </summary>
internal sealed class BertText(bool cleanText, bool chineseChars, bool stripAccents, bool lowercase, bool cleanup, int unknownId, int maxCharsPerWord)
{
    /// <summary>Whether the WordPiece decoder cleans up spaces (<see cref="WordPieceCleanup"/>).</summary>
    public bool Cleanup => cleanup;

    /// <summary>Appends the ids of <paramref name="text"/> (between added tokens): normalize, split into words, WordPiece each.</summary>
    public void Encode(Microsoft.ML.Tokenizers.Tokenizer wordPiece, string text, List<int> ids)
    {
        foreach (var word in Words(Normalize(text)))
        {
            // Hugging Face counts a word's characters, not its UTF-16 units; a longer word is one [UNK].
            if (word.EnumerateRunes().Count() > maxCharsPerWord)
            {
                ids.Add(unknownId);
                continue;
            }
            ids.AddRange(wordPiece.EncodeToIds(word, considerPreTokenization: false, considerNormalization: false));
        }
    }

    // Pairs of (precomposed letter, base letter): Python's unicodedata NFD with the Mn marks removed, for every letter
    // of the ranges above whose base is one character.
    private const string AccentTable =
        "ÀAÁAÂAÃAÄAÅAÇCÈEÉEÊEËEÌIÍIÎIÏIÑNÒOÓOÔOÕOÖOÙUÚUÛUÜUÝYàaáaâaãaäaåaçcèeéeêeëeìiíiîiïiñnòoóoôoõoöoùuúuûuüuýyÿyĀAāaĂAăaĄAąaĆC" +
        "ćcĈCĉcĊCċcČCčcĎDďdĒEēeĔEĕeĖEėeĘEęeĚEěeĜGĝgĞGğgĠGġgĢGģgĤHĥhĨIĩiĪIīiĬIĭiĮIįiİIĴJĵjĶKķkĹLĺlĻLļlĽLľlŃNńnŅNņnŇNňnŌOōoŎOŏoŐOőo" +
        "ŔRŕrŖRŗrŘRřrŚSśsŜSŝsŞSşsŠSšsŢTţtŤTťtŨUũuŪUūuŬUŭuŮUůuŰUűuŲUųuŴWŵwŶYŷyŸYŹZźzŻZżzŽZžzƠOơoƯUưuǍAǎaǏIǐiǑOǒoǓUǔuǕUǖuǗUǘuǙUǚuǛU" +
        "ǜuǞAǟaǠAǡaǢÆǣæǦGǧgǨKǩkǪOǫoǬOǭoǮƷǯʒǰjǴGǵgǸNǹnǺAǻaǼÆǽæǾØǿøȀAȁaȂAȃaȄEȅeȆEȇeȈIȉiȊIȋiȌOȍoȎOȏoȐRȑrȒRȓrȔUȕuȖUȗuȘSșsȚTțtȞHȟhȦAȧa" +
        "ȨEȩeȪOȫoȬOȭoȮOȯoȰOȱoȲYȳy΅¨ΆΑΈΕΉΗΊΙΌΟΎΥΏΩΐιΪΙΫΥάαέεήηίιΰυϊιϋυόούυώωϓϒϔϒЀЕЁЕЃГЇІЌКЍИЎУЙИйиѐеёеѓгїіќкѝиўуѶѴѷѵӁЖӂжӐАӑаӒАӓаӖЕ" +
        "ӗеӚӘӛәӜЖӝжӞЗӟзӢИӣиӤИӥиӦОӧоӪӨӫөӬЭӭэӮУӯуӰУӱуӲУӳуӴЧӵчӸЫӹыḀAḁaḂBḃbḄBḅbḆBḇbḈCḉcḊDḋdḌDḍdḎDḏdḐDḑdḒDḓdḔEḕeḖEḗeḘEḙeḚEḛeḜEḝeḞFḟfḠG" +
        "ḡgḢHḣhḤHḥhḦHḧhḨHḩhḪHḫhḬIḭiḮIḯiḰKḱkḲKḳkḴKḵkḶLḷlḸLḹlḺLḻlḼLḽlḾMḿmṀMṁmṂMṃmṄNṅnṆNṇnṈNṉnṊNṋnṌOṍoṎOṏoṐOṑoṒOṓoṔPṕpṖPṗpṘRṙrṚRṛrṜR" +
        "ṝrṞRṟrṠSṡsṢSṣsṤSṥsṦSṧsṨSṩsṪTṫtṬTṭtṮTṯtṰTṱtṲUṳuṴUṵuṶUṷuṸUṹuṺUṻuṼVṽvṾVṿvẀWẁwẂWẃwẄWẅwẆWẇwẈWẉwẊXẋxẌXẍxẎYẏyẐZẑzẒZẓzẔZẕzẖhẗtẘw" +
        "ẙyẛſẠAạaẢAảaẤAấaẦAầaẨAẩaẪAẫaẬAậaẮAắaẰAằaẲAẳaẴAẵaẶAặaẸEẹeẺEẻeẼEẽeẾEếeỀEềeỂEểeỄEễeỆEệeỈIỉiỊIịiỌOọoỎOỏoỐOốoỒOồoỔOổoỖOỗoỘOộo" +
        "ỚOớoỜOờoỞOởoỠOỡoỢOợoỤUụuỦUủuỨUứuỪUừuỬUửuỮUữuỰUựuỲYỳyỴYỵyỶYỷyỸYỹyἀαἁαἂαἃαἄαἅαἆαἇαἈΑἉΑἊΑἋΑἌΑἍΑἎΑἏΑἐεἑεἒεἓεἔεἕεἘΕἙΕἚΕἛΕἜΕἝΕ" +
        "ἠηἡηἢηἣηἤηἥηἦηἧηἨΗἩΗἪΗἫΗἬΗἭΗἮΗἯΗἰιἱιἲιἳιἴιἵιἶιἷιἸΙἹΙἺΙἻΙἼΙἽΙἾΙἿΙὀοὁοὂοὃοὄοὅοὈΟὉΟὊΟὋΟὌΟὍΟὐυὑυὒυὓυὔυὕυὖυὗυὙΥὛΥὝΥὟΥὠωὡωὢωὣω" +
        "ὤωὥωὦωὧωὨΩὩΩὪΩὫΩὬΩὭΩὮΩὯΩὰαάαὲεέεὴηήηὶιίιὸοόοὺυύυὼωώωᾀαᾁαᾂαᾃαᾄαᾅαᾆαᾇαᾈΑᾉΑᾊΑᾋΑᾌΑᾍΑᾎΑᾏΑᾐηᾑηᾒηᾓηᾔηᾕηᾖηᾗηᾘΗᾙΗᾚΗᾛΗᾜΗᾝΗᾞΗᾟΗᾠωᾡω" +
        "ᾢωᾣωᾤωᾥωᾦωᾧωᾨΩᾩΩᾪΩᾫΩᾬΩᾭΩᾮΩᾯΩᾰαᾱαᾲαᾳαᾴαᾶαᾷαᾸΑᾹΑᾺΑΆΑᾼΑ῁¨ῂηῃηῄηῆηῇηῈΕΈΕῊΗΉΗῌΗ῍᾿῎᾿῏᾿ῐιῑιῒιΐιῖιῗιῘΙῙΙῚΙΊΙ῝῾῞῾῟῾ῠυῡυῢυΰυῤρῥρῦυ" +
        "ῧυῨΥῩΥῪΥΎΥῬΡ῭¨΅¨ῲωῳωῴωῶωῷωῸΟΌΟῺΩΏΩῼΩ";

    private static readonly Dictionary<char, char> s_bases = BuildBases();

    private static Dictionary<char, char> BuildBases()
    {
        var map = new Dictionary<char, char>(AccentTable.Length / 2);
        for (var i = 0; i < AccentTable.Length; i += 2)
        {
            map[AccentTable[i]] = AccentTable[i + 1];
        }
        return map;
    }

    /// <summary>The normalized text (BertNormalizer).</summary>
    public string Normalize(string text)
    {
        var sb = new StringBuilder(text.Length + 8);
        foreach (var rune in text.EnumerateRunes())
        {
            var c = rune.Value;
            if (cleanText)
            {
                if (c == 0 || c == 0xFFFD || IsControl(rune))
                {
                    continue;
                }
                if (Rune.IsWhiteSpace(rune))
                {
                    sb.Append(' ');
                    continue;
                }
            }
            if (stripAccents && Rune.GetUnicodeCategory(rune) == UnicodeCategory.NonSpacingMark)
            {
                continue;
            }
            var r = stripAccents && rune.IsBmp && s_bases.TryGetValue((char)c, out var b) ? new Rune(b) : rune;
            if (lowercase)
            {
                r = Rune.ToLowerInvariant(r);
            }
            if (chineseChars && IsCjk(c))
            {
                sb.Append(' ').Append(r.ToString()).Append(' ');
            }
            else
            {
                sb.Append(r.ToString());
            }
        }
        return sb.ToString();
    }

    /// <summary>The words of normalized text (BertPreTokenizer): whitespace separates, each punctuation character is one.</summary>
    public static IEnumerable<string> Words(string text)
    {
        var start = -1;
        var i = 0;
        while (i < text.Length)
        {
            var rune = Rune.GetRuneAt(text, i);
            var width = rune.Utf16SequenceLength;
            if (Rune.IsWhiteSpace(rune) || IsPunctuation(rune))
            {
                if (start >= 0)
                {
                    yield return text[start..i];
                    start = -1;
                }
                if (!Rune.IsWhiteSpace(rune))
                {
                    yield return text.Substring(i, width);
                }
            }
            else if (start < 0)
            {
                start = i;
            }
            i += width;
        }
        if (start >= 0)
        {
            yield return text[start..];
        }
    }

    private static bool IsControl(Rune rune) =>
        rune.Value is not ('\t' or '\n' or '\r')
        && Rune.GetUnicodeCategory(rune) is UnicodeCategory.Control or UnicodeCategory.Format or UnicodeCategory.OtherNotAssigned
            or UnicodeCategory.PrivateUse or UnicodeCategory.Surrogate;

    private static bool IsPunctuation(Rune rune) =>
        rune.Value is (>= 33 and <= 47) or (>= 58 and <= 64) or (>= 91 and <= 96) or (>= 123 and <= 126)
        || Rune.GetUnicodeCategory(rune) is UnicodeCategory.ConnectorPunctuation or UnicodeCategory.DashPunctuation
            or UnicodeCategory.OpenPunctuation or UnicodeCategory.ClosePunctuation or UnicodeCategory.InitialQuotePunctuation
            or UnicodeCategory.FinalQuotePunctuation or UnicodeCategory.OtherPunctuation;

    private static bool IsCjk(int c) =>
        c is (>= 0x4E00 and <= 0x9FFF) or (>= 0x3400 and <= 0x4DBF) or (>= 0x20000 and <= 0x2A6DF) or (>= 0x2A700 and <= 0x2B73F)
            or (>= 0x2B740 and <= 0x2B81F) or (>= 0x2B820 and <= 0x2CEAF) or (>= 0xF900 and <= 0xFAFF) or (>= 0x2F800 and <= 0x2FA1F);
}
