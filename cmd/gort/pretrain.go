package main

import (
	"errors"
	"io"
)

// cmdPretrain pretrains a BERT, GPT-2 or ViT-MAE model from raw data.
func cmdPretrain(args []string, stdout, stderr io.Writer) error {
	return errors.New("pretrain: not yet available")
}
