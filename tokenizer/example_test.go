package tokenizer_test

import (
	"fmt"
	"slices"
	"strings"

	"github.com/gort-ml/gort/tokenizer"
)

func ExampleTrainWordPiece() {
	corpus := []string{
		"the cat sat on the mat",
		"the dog sat on the log",
		"cats and dogs! the end.",
	}
	tk, err := tokenizer.TrainWordPiece(slices.Values(corpus), tokenizer.WordPieceOptions{VocabSize: 60, Lowercase: true})
	if err != nil {
		panic(err)
	}
	e := tk.EncodePair("The cats sat.", "Dogs!")
	fmt.Println(strings.Join(e.Tokens, " "))
	fmt.Println(e.TypeIDs)
	fmt.Println(tk.Decode(e.IDs, true))
	// Output:
	// [CLS] the cats sat . [SEP] dogs ! [SEP]
	// [0 0 0 0 0 0 1 1 1]
	// the cats sat. dogs!
}

func ExampleLoad() {
	tk, err := tokenizer.Load("testdata/bert-tiny.json")
	if err != nil {
		panic(err)
	}
	text := "Unaffable café"
	e := tk.Encode(text)
	for i, tok := range e.Tokens {
		o := e.Offsets[i]
		fmt.Printf("%-6s %2d %v %q\n", tok, e.IDs[i], o, text[o[0]:o[1]])
	}
	// Output:
	// [CLS]   2 [0 0] ""
	// un      5 [0 2] "Un"
	// ##aff   6 [2 5] "aff"
	// ##able  7 [5 9] "able"
	// cafe    8 [10 15] "café"
	// [SEP]   3 [0 0] ""
}
