using Repro.Core.Fixtures;

namespace Repro.Core.Tests.Fixtures;

public sealed class ParagraphFilterTests
{
    static readonly HashSet<string> English =
    [
        "The apt-get command installs packages and their dependencies, and it removes packages that are no longer needed.",
    ];

    static ParagraphFilter For(string language) => new(FixtureLanguage.Get(language), English);

    [Test]
    public void An_untranslated_English_paragraph_in_the_German_edition_is_dropped_when_it_equals_the_English_one()
    {
        Assert.That(For("de").Check(English.Single()), Is.EqualTo(DropReason.UntranslatedEnglish));
    }

    [Test]
    public void An_untranslated_English_paragraph_with_translated_cross_references_is_dropped_by_the_function_word_test()
    {
        // Differs from every English paragraph (the reference is localised), so only the stopword test can catch it.
        const string text = "Once this first upgrade is done, it is time to handle the upgrade itself, either with apt full-upgrade " +
                            "or with aptitude (Abschnitt 6.7, „Von einer Stable Distribution auf die nächste aktualisieren“).";
        Assert.That(For("de").Check(text), Is.EqualTo(DropReason.UntranslatedEnglish));
        Assert.That(For("es").Check(text), Is.EqualTo(DropReason.UntranslatedEnglish));
    }

    [Test]
    public void A_German_paragraph_that_names_English_programs_is_kept()
    {
        const string text = "Der Befehl apt-get installiert Pakete und ihre Abhängigkeiten; das Programm aptitude bietet zusätzlich " +
                            "eine Oberfläche im Textmodus, die von vielen Verwaltern geschätzt wird.";
        Assert.That(For("de").Check(text), Is.EqualTo(DropReason.Kept));
    }

    [TestCase("# apt-get install --no-install-recommends postfix-ldap")]
    [TestCase("$ dpkg-source -x package_1.0-1.dsc && cd package-1.0")]
    [TestCase("root@falcot:~# systemctl restart apache2.service")]
    [TestCase("deb http://security.debian.org/debian-security/ bullseye-security/updates main")]
    [TestCase("/etc/apt/sources.list /etc/apt/sources.list.d/backports.list /etc/apt/preferences.d/pinning")]
    [TestCase("for file in $(find /var/log -name '*.gz'); do echo $file >> /tmp/old-logs.txt; done")]
    public void Command_lines_code_and_file_paths_are_dropped(string text)
    {
        Assert.That(For("en").Check(ParagraphFilter.Normalize(text)), Is.EqualTo(DropReason.Code));
    }

    [Test]
    public void Prose_that_mentions_a_path_is_not_code()
    {
        const string text = "The /etc/apt/sources.list file lists the places where APT looks for packages, one repository per line, " +
                            "and each line says which kind of archive it points to and which components it uses.";
        Assert.That(For("en").Check(text), Is.EqualTo(DropReason.Kept));
    }

    [Test]
    public void A_Chinese_sentence_with_inline_identifiers_is_not_code()
    {
        const string text = "virtual_uid_maps 参数引用包含映射的文件，其中映射联系了邮件地址与拥有相应邮箱的系统用户。";
        Assert.That(For("zh").Check(text), Is.EqualTo(DropReason.Kept));
    }

    [Test]
    public void A_paragraph_in_the_wrong_script_is_dropped()
    {
        Assert.That(For("ru").Check("The package manager keeps a database of every file that each installed package has put on the system."),
            Is.EqualTo(DropReason.WrongScript));
        Assert.That(For("de").Check("Менеджер пакетов хранит базу данных всех файлов, которые установил каждый пакет в системе."),
            Is.EqualTo(DropReason.WrongScript));
        Assert.That(For("zh").Check("مدير الحزم يحتفظ بقاعدة بيانات لكل ملف وضعته كل حزمة مثبتة على النظام"), Is.EqualTo(DropReason.WrongScript));
    }

    [Test]
    public void A_Russian_sentence_that_names_commands_in_Latin_letters_keeps_its_script_share()
    {
        Assert.That(For("ru").Check("Команда apt-get install устанавливает пакет вместе со всеми его зависимостями из репозитория."),
            Is.EqualTo(DropReason.Kept));
    }

    [Test]
    public void Short_fragments_are_dropped()
    {
        Assert.That(For("de").Check("Zum Beispiel:"), Is.EqualTo(DropReason.TooShort));
        Assert.That(For("zh").Check("例如：这样"), Is.EqualTo(DropReason.TooShort));
    }

    [Test]
    public void Whitespace_is_normalised_to_single_spaces_and_invisible_characters_go()
    {
        Assert.That(ParagraphFilter.Normalize("\n\t\t\tEin\u00A0 Satz\u3000mit\u00ADten \u200Bdrin.\r\n  "), Is.EqualTo("Ein Satz mitten drin."));
    }

    [Test]
    public void Near_duplicates_share_a_key_that_ignores_case_punctuation_and_spacing()
    {
        Assert.That(ParagraphFilter.NearDuplicateKey("Note: the  Debian project."), Is.EqualTo(ParagraphFilter.NearDuplicateKey("NOTE — The Debian project")));
        Assert.That(ParagraphFilter.NearDuplicateKey("Debian 11"), Is.Not.EqualTo(ParagraphFilter.NearDuplicateKey("Debian 12")));
    }
}
