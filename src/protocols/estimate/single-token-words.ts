// Lowercase words that are ONE token in o200k_base and cl100k_base as "word", " word",
// "Word" and " Word" (checked by test/protocols/text-tokens.test.ts against the real
// tokenizers). The most frequent words of English technical prose, generated once by
// bench/single-token-words.mjs; the estimate counts such a word as one token.

export const SINGLE_TOKEN_WORDS = (
  'the com github to and commit of is node in for js const be data with or issues from that as can will this code ' +
  'form new are you on not use log an api compare string type docs function it if options client request by ' +
  'number error console import ts server src version all require object org value default add when types md true ' +
  'example source responses img set stream response http any await message using logger transport method get ' +
  'internal sec return support test file update level body io has ops without foo package path name headers used ' +
  'more resources svg debug option which callback time your only key application false so null have fetch also ' +
  'following json requests run module url optional fast es at property check copy do should html values br notice ' +
  'fix var may connection instance width build content files tests map same array javascript runs info worker one ' +
  'but event id sub line result documentation process install close bar boolean custom returns errors other err ' +
  'above target messages redis some library no including buffer remove properties like than instead available ' +
  'performance actions text output examples after socket end async parameter need image task functions supported ' +
  'versions call where pull header then db badge command title make color input before dev logs destination ' +
  'publish each passed style undefined align release child create main bytes transaction they size thread bind ' +
  'objects alt based multiple was let extension received free methods export browser see meta single keys connect ' +
  'center send proxy top en ci first my does included open conditions user assert config called usage associated ' +
  'pipeline modify we hello want database into port copyright agent handler up once parse software them there ' +
  'write events original standard must tasks pool app colors author permission address been format argument ' +
  'required model per through merge rights here details license range origin mode length state memory provide ' +
  'enabled returned cache commands project via running spec its status person binary out current environment ' +
  'still logging deal subject dependencies work would these well between connections threads obj charge sell ' +
  'persons master fs include security symbols encode uses read start encoding imports world full script non ' +
  'filename behavior information issue both how schema added case different latest pass decode updates ' +
  'implementation generated order about res such sh list beta changes doc match strings interface allow names ' +
  'possible configuration helpers given built class being way streams handling arguments void dispatcher always ' +
  'branch handle results local unknown column downloads index missing while reply prototype specific blob every ' +
  'don setting host below raw change maximum times two matching pattern operations keep apply env expect timeout ' +
  'correct now avoid next resolve items table over within upgrade dispatch constructor destroy paths modules ' +
  'promise tool never additional dependency convert parameters record enable throw access parser features tools ' +
  'under req cluster works calls define second ignore extensions core endpoint sup native regex even tree query ' +
  'params avatar sent git chunk allows min our website minor entries users found valid wait password retry email ' +
  'auto characters what just ms processing written random cli own simple their benchmark global queue lib plugin ' +
  're net either try disable back since help reference compression metrics push protocol filter equal codec ' +
  'runtime most entry namespace load put shared append already web public limit completed catch major levels ' +
  'channel bug msg wiki flag invalid cases workers fields strict args another defined classes manual during ' +
  'seconds validate field rather recommended right abort pretty section until max closed related warning cause ' +
  'contains done listen pending report authentication part variable empty str against were label amount includes ' +
  'please because bit signal coverage expected flat created many control testing creating buf nodes better long ' +
  'tokens installed context codes auth workflow dist similar developer could last means instances very feature ' +
  'pure token hash serialized samples safe item nice generate removed audio register else comment ensure higher ' +
  'setup generator targets lines made reset otherwise inside registered pipe needed sync co logo structure multi ' +
  'real total rand aud session opt something offset move less syntax link least disabled present iterator ' +
  'abstract service integer count red assets mean those regular known store unless disconnect currently slice ' +
  'replace defaults deprecated compatible published operation impact factory validation take bundle snapshot ' +
  'priority static secret repo minimum styles writing progress submit existing calling find stack tag common ' +
  'community accept helper subscribe idle byte addresses extra named writes interval stored trace save summary ' +
  'metadata best adding registry us matches mock std attachment deep enum uri patch directory numbers models ' +
  'clear timestamp fixed left warn ai sure making character later whether date small requires images combined ' +
  'nested configure escape zero complete due chat why pizza page space tags off ready role sending direct ' +
  'duplicate root fatal compile flush scripts drop high clients records square point logged username old boundary ' +
  'resource updated references much allowed base encoder ping side too secure domain services payload duration ' +
  'serializer azure terminal detect prefix previous document mapping override large txt rs transactions fully ' +
  'labels age delay pre loop cannot rate post execution ordered clean greater param speed external hex force ' +
  'magic needs guide primitive advanced patterns alpha integration makes good emoji important individual dynamic ' +
  'cookie except expression media packages lookup know waiting flags relative arrays finish connected slot big tr ' +
  'storage credentials metric mid fail utility explicit parts comments charset resume closing purpose system gets ' +
  'init definitions utils handles split minimal certificate green changed actual css basic rules pack skip ' +
  'production reports perform delete typed dest extract prom plain parent google resolution xml listener receive ' +
  'around starting search platform identifier low adds absolute place parallel family proc unit exact along ' +
  'implement down cached continue windows follow partial plugins div execute fn projects consumer block slave aws ' +
  'cloud action breaking serialize attributes boom print sources disk seq download utf special strip turn ' +
  'checking channels network exec compiler applications join average head bold days fine connector variables ' +
  'clone location logic checks yet extended comparison twitter started im settings sequence things failed me ' +
  'provider distribution servers private serialization representation exit echo reason lead apps description few ' +
  'reading exists stars lower lite react cleanup background transform official again limits potential third ' +
  'throws mail break lexer algorithm forward note counter dom jobs vertex modern wrapper converter weak identity ' +
  'matcher frame folder edge upload batch alive having recommend verify reduce cross retrieve completion ' +
  'signature working scope globals switch bound converted sort thing group links exist literal won short wrong ' +
  'assigned cursor creates queries round monitor stop connecting reject conversion share inc final keyword ' +
  'history submitted initial extend sign hidden lt systems refer alternative primary future notes automatic whole ' +
  'three shape inputs bulk blocking attempt blocks actually team released tuple linux outputs generic complex ' +
  'span chrome white anything go show compact effect usually normal opening repository shell plus contents op who ' +
  'rename self tracking normalize points reverse general statistics tick active descriptor alias util answer ' +
  'doing welcome scan wrapped leading critical terms management migration cert according charts others difference ' +
  'language display operator exception account crypto broken products blue phase bootstrap minutes union animal ' +
  'audit replacement sizes everything redirect mark position words apache pause licensed strategy forms stuff ' +
  'elements statement chain arr period outside sample easy definition seed unexpected bits machine spaces bad ' +
  'little cat yellow persist creation look linear remote credential num home spawn sharing capacity ast ' +
  'pagination render depth ca hi word restore step nothing font template lists going ref strong vs feedback ' +
  'however hook maintenance element declare trying problem window track recent contact generation though defines ' +
  'experience temporary questions far maps busy detail risk upon numeric unique kill os height editor transfer ' +
  'express hooks authorization hours controller keywords adjust segment markdown dash probably human shows ' +
  'collection collect verb increase medium fit wrap kind assign social series eval communication building none ' +
  'lost development framework unicode instructions cycle come bottom did job lock threshold stores bin dump ' +
  'reserved demo stats cancel four rotation constraints serial bucket bank conditional condition refresh login ' +
  'preferred depending runner modified positive expand fill finished float topics subscriber failure sets thanks ' +
  'people dep homepage gateway year black success constant slow intersection accepted controls tables taken love ' +
  'checked shift val se deserialize food decimal cmd care requirements attached manager hard diff away pressure ' +
  'interaction hold enc unsupported consider pages pub subscription variant installation startup slots stat ' +
  'providers peer keeping bool int often really suite offers heap nor loss met half pick reach prior remaining ' +
  'getter digest fee validator grey steps vendor trigger severity annotation roll telegram orange frames mod mind ' +
  'personal maybe insert inline manage mixed incorrect registration limited normally policy getting lazy tiny ' +
  'fake box filters managed thus grammar rest race design blog de lot templates legacy enterprise experimental ' +
  'proof loaded decoder dictionary represent writer john pow analysis addr early positions caller pin binding ' +
  'precision proto candidate uniform tar day dog backend quotes authors light edit derived groups land loading ' +
  'dot popular choose rule ability selection site expr friendly semantic course soon dos profile ip container got ' +
  'article among locale accounts verification quote embedded quite documents macro research symbol frequency ' +
  'visible computer boost middle interfaces taking component give months attribute loader availability trust ' +
  'double live organization business pg die man city todo inner outer guard percent toggle ve vector video apple ' +
  'ownership great dir stay graph goal prompt solution utilities tutorial cover play conversation learn ask scale ' +
  'selected broadcast sense quick finding signed matrix preview embed renderer watch members ban ever builder ' +
  'ratio ending joined atomic almost successful pair increment choice effective transition sorted components ' +
  'overview overall aggregate timer member prop middleware concept flight route had rotate schedule nature ' +
  'padding constraint trip draft rel multiply checkout fragment assistant sa mini persistent lets incoming tab ' +
  'saving zip engine tap allocate formats surface separator star sometimes coding forget routes evaluation ' +
  'shutdown invoke serve online lua resp negative amazon power years char mix cd week wide cake ports routing ' +
  'authenticate physical professional posting think feel cost initialize backup reader interrupt commercial ' +
  'practice looks constants dead fire warm launch evaluate deployment party flow mapper scheme deploy containers ' +
  'life hardware children say epoch calculate mount brand nullable dark trap chart zoom eight ya ok prepare ' +
  'factor admin permissions listing vision plan trim equals iso program php archive gov pdf conf leave combine ed ' +
  'lots whatever exceptions blank digit letters layers proposal screen colon begin operand youtube featured ' +
  'company companies intro offline quit deleted traditional anonymous quality pi prod offer alignment fraction ' +
  'review sender calendar delivery inject he posts visit modifier translation although confirm view tech pointer ' +
  'boot floating architecture respond powered eq nr places protect delta ma ana materials walk banner sampling ' +
  'verified gray health attack choices coordinate assignment credit cap layout ten angle floor resolver gate ' +
  'loads formatter six month cast router submission activity am margin sentence picture super touch lab scheduled ' +
  'compute cold bars smooth le angular coffee uno bot misc li skills brown rows criteria footer grab sk jwt csv ' +
  'capture ideal accuracy inter shot presence awesome prov publisher knowledge del deadline select effects agents ' +
  'predicate describe gen question fall row interest education orientation attention fair percentage visitor ' +
  'selector mit area allocation material heavy layer clinical saved da circle slash bounds continuous term paper ' +
  'median volume hack dim prev remember tips realm associate cors walker ru extras scenario tell hand cookies ' +
  'props overflow house raise challenge dt calc moving collector daily gap lambda placeholder five discussion ' +
  'moment looking predict gradient street sm def hit population math areas unsafe vertical plot his sep cool ' +
  'construction weather thinking hour doctor validators recursive nil region pro unix activate sessions ins ' +
  'locations immutable hint asc tile mobile sun java manifest micro movie changing conv directive sum em az upper ' +
  'forge monthly ground roles ex producer minute profiles restart news protected happy shield viewer raises ui ' +
  'corner hu ch units mess automation notify notifications reflect entity ent stub everyone sex gender appearance ' +
  'participants answers product scanner collections composer presentation arg linked transparent publication ' +
  'distance workspace instant drive temp cipher virtual ahead notification mutex favorite operators intent fact ' +
  'indicator logical highest direction rev guess yes python hide ba artifact holder highlight traffic har topic ' +
  'counts columns jump seen len checker entities fresh located gain eu administrator tester tracker claims meet ' +
  'engineering late ship front dataset tcp guest su mutable peak relationship cut encrypt prediction alloc ' +
  'mutation functional approved dashboard browse ram themes horizontal animation oh quantity weight todos bright ' +
  'foundation grid act privacy axis lean collision friend wheel spy shortcut ph walking loc tracks temperature ' +
  'unable pose ul func perfect ease stick dec arrow py instrument natural sorting cell mp dates videos tier ' +
  'played authorized thought lo preferences icon geo sea wave oracle flash un sites procedure repeat equ truth ' +
  'asset bob episode activities tv views commerce pat arm discover nat construct sweet spin speaker dig hey bs au ' +
  'gl financial processor gas abs spread posted face experiment scalar lex nb budget invite restricted alter ' +
  'medical parcel fault confirmation delegate smart buy perhaps facebook dict '
).trim().split(' ');
